/**
 * `POST /v1/files`: a multipart upload streamed into the store chunk by chunk (never held whole),
 * bounded by `--max-file-mb`, each line of a batch file checked to be a JSON object as it passes
 * (a bad one names its line and nothing is kept). Files expire after the gateway's TTL, or sooner
 * when the upload asks (`expires_after[seconds]`, as OpenAI takes it).
 */
import type { Multipart } from '@fastify/multipart';
import { ApiError, invalidRequest } from '../core/errors.js';
import { randomId } from '../core/secrets.js';
import { FileWriter } from '../store/file-writer.js';
import type { FileStore, StoredFile } from '../store/store.js';

export interface FileLimits {
  maxBytes: number;
  /** How long a file lives unless the upload asks for less. */
  ttlS: number;
  /** A line longer than this cannot be one request of a batch. */
  maxLineBytes: number;
}

export const DEFAULT_MAX_FILE_MB = 512;
export const DEFAULT_FILE_TTL_S = 30 * 86_400;
const PURPOSES = new Set(['batch']);

const NEWLINE = 0x0a;

/** Splits a stream into lines across chunk boundaries; `onLine` gets each non-empty one and its number. */
export class JsonlSplitter {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private lineNo = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (text: string, line: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, start)) {
      this.take(chunk.subarray(start, i));
      this.line();
      start = i + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  end(): void {
    if (this.partialBytes > 0) this.line();
  }

  private take(piece: Buffer): void {
    this.partialBytes += piece.length;
    if (this.partialBytes > this.maxLineBytes)
      throw invalidRequest(
        `Line ${this.lineNo + 1} of the file is longer than ${this.maxLineBytes} bytes, more than one request can be; ` +
          'split it, or check that the file is JSONL (one request per line).',
        'file',
        'invalid_file',
      );
    this.partial.push(piece);
  }

  private line(): void {
    this.lineNo++;
    const text = Buffer.concat(this.partial, this.partialBytes).toString('utf8').trim();
    this.partial = [];
    this.partialBytes = 0;
    if (text !== '') this.onLine(text, this.lineNo);
  }
}

/** A batch file's lines as they pass: each must be a JSON object; counts them. */
function objectLines(maxLineBytes: number): { splitter: JsonlSplitter; count: () => number } {
  let lines = 0;
  const splitter = new JsonlSplitter(maxLineBytes, (text, line) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw invalidRequest(
        `Line ${line} of the file is not a JSON object; a batch file holds one request per line, ` +
          'e.g. {"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {…}}.',
        'file',
        'invalid_file',
      );
    lines++;
  });
  return { splitter, count: () => lines };
}

function tooLarge(limits: FileLimits): ApiError {
  return new ApiError(
    'payload_too_large',
    `The file is larger than this gateway's limit of ${Math.round(limits.maxBytes / 1048576)} MiB ` +
      '(`gateway start --max-file-mb`); split it into several batches.',
    { code: 'file_too_large' },
  );
}

/** Reads the parts of one upload into the store; the file is deleted again if anything fails. */
export async function receiveFile(
  parts: AsyncIterable<Multipart>,
  owner: string,
  files: FileStore,
  limits: FileLimits,
  nowS: number,
): Promise<StoredFile> {
  const fields: Record<string, string> = {};
  let id: string | undefined;
  let uploaded: { writer: FileWriter; lines: number } | undefined;
  try {
    for await (const part of parts) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
        continue;
      }
      if (id !== undefined) throw invalidRequest('Send one file per upload.', 'file', 'invalid_file');
      id = randomId('file-', 12);
      const writer = await FileWriter.begin(files, {
        id,
        owner,
        filename: part.filename || 'upload.jsonl',
        created_at: nowS,
      });
      const check = objectLines(limits.maxLineBytes);
      for await (const chunk of part.file as AsyncIterable<Buffer>) {
        if (writer.bytes + chunk.length > limits.maxBytes) throw tooLarge(limits);
        check.splitter.push(chunk);
        await writer.write(chunk);
      }
      if (part.file.truncated) throw tooLarge(limits);
      check.splitter.end();
      uploaded = { writer, lines: check.count() };
    }
    if (uploaded === undefined)
      throw invalidRequest(
        "The upload has no 'file' part: send multipart/form-data with 'file' and 'purpose'.",
        'file',
        'missing_file',
      );
    const purpose = fields.purpose;
    if (!purpose || !PURPOSES.has(purpose))
      throw invalidRequest(
        `'purpose' must be "batch" (this gateway keeps files for batch jobs only); got ${purpose ? `'${purpose}'` : 'none'}.`,
        'purpose',
        'invalid_purpose',
      );
    if (uploaded.lines === 0) throw invalidRequest('The file holds no request: it is empty.', 'file', 'invalid_file');
    const { writer, lines } = uploaded;
    return await writer.finish({ purpose, lines, expires_at: nowS + expirySeconds(fields, limits) });
  } catch (error) {
    if (id !== undefined) await files.delete(id).catch(() => {});
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(limits);
    throw error;
  }
}

/** OpenAI's `expires_after[anchor]=created_at` and `expires_after[seconds]`, at most the gateway's TTL. */
function expirySeconds(fields: Record<string, string>, limits: FileLimits): number {
  const asked = fields['expires_after[seconds]'];
  if (asked === undefined) return limits.ttlS;
  const anchor = fields['expires_after[anchor]'] ?? 'created_at';
  const seconds = Number(asked);
  if (anchor !== 'created_at' || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000)
    throw invalidRequest(
      "'expires_after' must be {anchor: created_at, seconds: 3600 to 2592000}, as OpenAI takes it.",
      'expires_after',
      'invalid_value',
    );
  return Math.min(seconds, limits.ttlS);
}

/** Deletes expired files and uploads abandoned for an hour, every `everyMs`; returns the stop function. */
export function startFilePrune(files: FileStore, everyMs: number, onError: (m: string) => void): () => void {
  const prune = () => {
    const nowS = Math.floor(Date.now() / 1000);
    files
      .prune(nowS, nowS - 3600)
      .catch((error: unknown) => onError(`file expiry failed: ${(error as Error).message}`));
  };
  prune();
  const timer = setInterval(prune, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
