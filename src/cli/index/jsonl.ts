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
import { createInterface } from 'node:readline';
import { CliError, ExitCode } from '../../core/errors.js';
import type { OutputRecord } from '../embed/runner.js';
import { contentHash, type Checkpoint, type IndexAppender, type IndexMeta, type IndexTarget } from './target.js';

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

/** The file's records in order, streamed line by line, with their line numbers (errors name them). */
export async function* jsonlRecords(path: string): AsyncGenerator<{ line: number; record: JsonlRecord }> {
  let line = 0;
  for await (const text of createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  })) {
    line++;
    if (text === '') continue;
    try {
      yield { line, record: JSON.parse(text) as JsonlRecord };
    } catch {
      throw new CliError(
        `${path}:${line} is not valid JSON`,
        ExitCode.failure,
        'a run that was killed leaves a partial last line: rerun the embed command to repair it',
      );
    }
  }
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
    async *rows() {
      const model = readMeta(path)?.model ?? '';
      if (!existsSync(path)) return;
      for await (const { record } of jsonlRecords(path)) {
        const { embedding } = record;
        yield {
          id: record.id,
          text: record.text ?? null,
          metadata: record.metadata ?? null,
          contentSha256: record.text === undefined ? null : contentHash(record.text),
          model,
          // base64 of little-endian float32: 4 bytes a value, 3 bytes every 4 characters.
          dimensions: typeof embedding === 'string' ? Buffer.byteLength(embedding, 'base64') / 4 : embedding.length,
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
