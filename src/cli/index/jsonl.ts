/**
 * The output of `embed --out`: a JSONL file of `{id, text, embedding}` records, a sidecar
 * `<out>.meta.json` saying which model and dimensions made it (so nothing else is ever mixed in),
 * and a checkpoint `<out>.checkpoint.json` written after every appended batch. A killed run leaves
 * at most a partial last line beyond the checkpoint; the next run truncates to the checkpoint and
 * goes on, so no record is missing or written twice.
 */
import {
  closeSync,
  createReadStream,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CliError, ExitCode } from '../../core/errors.js';
import type { OutputRecord } from '../embed/runner.js';
import type { Checkpoint, IndexAppender, IndexMeta, IndexTarget } from './target.js';

export const metaPath = (out: string) => `${out}.meta.json`;
export const checkpointPath = (out: string) => `${out}.checkpoint.json`;

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    throw new CliError(
      `${path} is not valid JSON`,
      ExitCode.failure,
      'remove it and rerun with --force to rebuild the output',
    );
  }
}

/** Atomic: a reader (or a crash) sees the old file or the new one, never half. */
function writeJsonAtomic(path: string, value: unknown): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function readMeta(out: string): IndexMeta | undefined {
  const meta = readJson<IndexMeta>(metaPath(out));
  if (meta && meta.format !== 'embctl-embeddings')
    throw new CliError(`${metaPath(out)} is not an embctl index description`, ExitCode.failure);
  return meta;
}

export const readCheckpoint = (out: string) => readJson<Checkpoint>(checkpointPath(out));

export function removeIndex(out: string): void {
  for (const path of [out, metaPath(out), checkpointPath(out)]) rmSync(path, { force: true });
}

export interface JsonlRecord {
  id: string;
  text?: string;
  metadata?: Record<string, unknown>;
  embedding: number[] | string;
}

/** The file's non-empty lines in order as bytes (decoding is the caller's: most of a line is its vector), numbered. */
async function* jsonlLines(path: string): AsyncGenerator<{ line: number; bytes: Buffer }> {
  let line = 0;
  let carry: Buffer | undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let end = data.indexOf(10); end !== -1; end = data.indexOf(10, start)) {
      line++;
      const bytes = data.subarray(start, end > start && data[end - 1] === 13 ? end - 1 : end);
      if (bytes.length) yield { line, bytes };
      start = end + 1;
    }
    carry = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
  }
  if (carry?.length) yield { line: line + 1, bytes: carry };
}

const invalidLine = (path: string, line: number) =>
  new CliError(
    `${path}:${line} is not valid JSON`,
    ExitCode.failure,
    'a run that was killed leaves a partial last line: rerun the embed command to repair it',
  );

/** The file's records in order, streamed line by line, with their line numbers (errors name them). */
export async function* jsonlRecords(path: string): AsyncGenerator<{ line: number; record: JsonlRecord }> {
  for await (const { line, bytes } of jsonlLines(path)) {
    try {
      yield { line, record: JSON.parse(bytes.toString('utf8')) as JsonlRecord };
    } catch {
      throw invalidLine(path, line);
    }
  }
}

const EMBEDDING_KEY = Buffer.from(',"embedding":');
const [COMMA, QUOTE, BRACKET, BRACE, EQUALS] = [44, 34, 91, 125, 61];

/**
 * A record's line without decoding its vector: embctl writes the embedding last, after the id, the
 * text (where `,"embedding":` cannot occur unescaped) and the metadata. The first occurrence is the
 * vector's unless a metadata object holds that key, and then the head does not parse (its object
 * is not closed): the line is parsed whole, as a line of any other layout is. The vector's length
 * is counted (commas, or base64 bytes) only when asked for.
 */
function withoutVector(
  bytes: Buffer,
  countDimensions: boolean,
): { record: Omit<JsonlRecord, 'embedding'>; dimensions: number } {
  const at = bytes.indexOf(EMBEDDING_KEY);
  const from = at + EMBEDDING_KEY.length;
  const end = bytes.length - 1;
  let record: Omit<JsonlRecord, 'embedding'> | undefined;
  if (at !== -1 && bytes[end] === BRACE && (bytes[from] === QUOTE || bytes[from] === BRACKET)) {
    try {
      record = JSON.parse(`${bytes.toString('utf8', 0, at)}}`) as Omit<JsonlRecord, 'embedding'>;
    } catch {
      record = undefined;
    }
  }
  if (!record) {
    const { embedding, ...whole } = JSON.parse(bytes.toString('utf8')) as JsonlRecord;
    const dimensions = typeof embedding === 'string' ? Buffer.byteLength(embedding, 'base64') / 4 : embedding.length;
    return { record: whole, dimensions };
  }
  if (!countDimensions) return { record, dimensions: 0 };
  if (bytes[from] === QUOTE) {
    let characters = end - 1 - (from + 1);
    while (characters > 0 && bytes[from + characters] === EQUALS) characters--;
    return { record, dimensions: Math.floor((characters * 3) / 4) / 4 };
  }
  let commas = 0;
  for (let i = bytes.indexOf(COMMA, from); i !== -1 && i < end; i = bytes.indexOf(COMMA, i + 1)) commas++;
  return { record, dimensions: bytes[from + 1] === 93 ? 0 : commas + 1 };
}

/** Byte offsets of each line start in the first `bytes` bytes of the file (streamed in 1 MiB reads). */
function lineOffsets(fd: number, bytes: number): number[] {
  const offsets: number[] = [];
  const buffer = Buffer.allocUnsafe(1 << 20);
  let lineStart = 0;
  for (let position = 0; position < bytes; ) {
    const read = readSync(fd, buffer, 0, Math.min(buffer.length, bytes - position), position);
    if (read === 0) break;
    for (let i = buffer.indexOf(10, 0); i !== -1 && i < read; i = buffer.indexOf(10, i + 1)) {
      offsets.push(lineStart);
      lineStart = position + i + 1;
    }
    position += read;
  }
  return offsets;
}

/** A record's line up to its embedding: id, text (unless left out), metadata (when it has any). */
export function recordHead(record: OutputRecord, includeText: boolean): string {
  return (
    `{"id":${JSON.stringify(record.id)},${includeText ? `"text":${JSON.stringify(record.text)},` : ''}` +
    `${record.metadata ? `"metadata":${JSON.stringify(record.metadata)},` : ''}"embedding":`
  );
}

export class IndexWriter implements IndexAppender {
  private readonly fd: number;
  private size: number;
  /** Start offset of every record in the file, for reading a vector back. */
  private readonly offsets: number[];

  constructor(
    readonly path: string,
    /** Truncate to this many bytes first (the last checkpoint), dropping a partial tail. */
    keepBytes: number | undefined,
  ) {
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+', 0o644);
    const actual = fstatSync(this.fd).size;
    this.size = keepBytes === undefined ? actual : Math.min(keepBytes, actual);
    if (this.size < actual) ftruncateSync(this.fd, this.size);
    this.offsets = lineOffsets(this.fd, this.size);
  }

  get records(): number {
    return this.offsets.length;
  }

  get position(): number {
    return this.size;
  }

  /** Appends the records as whole lines, with one write. */
  append(records: OutputRecord[], includeText: boolean): void {
    const start = this.size;
    let text = '';
    for (const record of records) {
      const head = recordHead(record, includeText);
      text += `${head}${record.embedding}}\n`;
      this.offsets.push(this.size);
      // The embedding JSON is ASCII (digits, or base64): only the head needs a UTF-8 count.
      this.size += Buffer.byteLength(head, 'utf8') + record.embedding.length + 2;
    }
    const written = writeSync(this.fd, text, start, 'utf8');
    if (written !== this.size - start)
      throw new Error(`write to ${this.path} took ${written} bytes, ${this.size - start} expected`);
  }

  /** The serialized `embedding` value of record `position`, read back from the file. */
  embeddingAt(position: number): string {
    const start = this.offsets[position];
    if (start === undefined) throw new Error(`record ${position} is not in ${this.path}`);
    const end = this.offsets[position + 1] ?? this.size;
    const buffer = Buffer.alloc(end - start);
    readSync(this.fd, buffer, 0, buffer.length, start);
    const record = JSON.parse(buffer.toString('utf8')) as { embedding: unknown };
    return JSON.stringify(record.embedding);
  }

  /** Every append is durable when it returns. */
  flush(): void {}

  saveCheckpoint(checkpoint: Checkpoint): void {
    writeJsonAtomic(checkpointPath(this.path), checkpoint);
  }

  saveMeta(meta: IndexMeta): void {
    writeJsonAtomic(metaPath(this.path), meta);
  }

  close(): void {
    closeSync(this.fd);
  }
}

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/** A JSONL file with its `.meta.json` and `.checkpoint.json` sidecars. */
export function jsonlTarget(path: string): IndexTarget {
  return {
    name: path,
    absolute: resolve(path),
    missingDirectory: () => (existsSync(dirname(resolve(path))) ? undefined : dirname(path)),
    foreign: () => existsSync(path) && !readMeta(path),
    meta: () => readMeta(path),
    checkpoint: () => readCheckpoint(path),
    remove: () => removeIndex(path),
    open: (keepPosition) => new IndexWriter(path, keepPosition),
    async reader() {
      if (!existsSync(path)) return undefined;
      const { loadIndex } = await import('./scan.js');
      return loadIndex(path);
    },
    async *rows(options = { dimensions: true }) {
      const model = readMeta(path)?.model ?? '';
      if (!existsSync(path)) return;
      for await (const { line, bytes } of jsonlLines(path)) {
        let parsed: ReturnType<typeof withoutVector>;
        try {
          parsed = withoutVector(bytes, options.dimensions);
        } catch {
          throw invalidLine(path, line);
        }
        const { record, dimensions } = parsed;
        yield {
          id: record.id,
          text: record.text ?? null,
          metadata: record.metadata ?? null,
          // No hash kept: a migration compares the text itself (hashing every line would cost more than reading it).
          contentSha256: null,
          model,
          dimensions,
        };
      }
    },
    async count() {
      const checkpoint = readCheckpoint(path);
      return checkpoint ? checkpoint.base_records + checkpoint.records : (readMeta(path)?.records ?? 0);
    },
    async size() {
      return sizeOf(path) + sizeOf(metaPath(path)) + sizeOf(checkpointPath(path));
    },
  };
}
