/**
 * The output of `embed --out`: a JSONL file of `{id, text, embedding}` records, a sidecar
 * `<out>.meta.json` saying which model and dimensions made it (so nothing else is ever mixed in),
 * and a checkpoint `<out>.checkpoint.json` written after every appended batch. A killed run leaves
 * at most a partial last line beyond the checkpoint; the next run truncates to the checkpoint and
 * goes on, so no record is missing or written twice.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { CliError, ExitCode } from '../../core/errors.js';

export interface IndexMeta {
  format: 'embctl-embeddings';
  version: 1;
  /** The model the gateway reported serving: what every vector in the file came from. */
  model: string;
  requested_model: string;
  /** The `dimensions` asked of the model, when the run shortened its vectors: a query must ask the same. */
  requested_dimensions?: number;
  dimensions: number;
  vector_format: 'float' | 'base64';
  text: boolean;
  records: number;
  created_at: string;
  updated_at: string;
  embctl_version: string;
}

export interface Checkpoint {
  /** Sources and options of the run that wrote it; another run appends instead of resuming. */
  fingerprint: string;
  /** Records and bytes in the file before this run started. */
  base_records: number;
  base_bytes: number;
  /** Records this run has written, and the file size after the last of them. */
  records: number;
  bytes: number;
  /** SHA-256 of the ids and texts of this run's records, in order, to prove a resume sees the same input. */
  input_sha256: string;
}

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

export class IndexWriter {
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

  get bytes(): number {
    return this.size;
  }

  /** Appends whole lines with one write; `bytes[i]` is the UTF-8 length of `lines[i]`. */
  append(lines: string[], bytes: number[]): void {
    const start = this.size;
    for (const length of bytes) {
      this.offsets.push(this.size);
      this.size += length;
    }
    const written = writeSync(this.fd, lines.join(''), start, 'utf8');
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
