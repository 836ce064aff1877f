/**
 * Where `embed --out` writes and `search --index` reads: one interface, one module per target.
 * `FILE.jsonl` (a JSONL file and its sidecars), `sqlite:PATH[#collection]` (a SQLite file holding
 * collections, searched with sqlite-vec), `lancedb:DIR[#table]` (a LanceDB table with an ANN index). Every target keeps the same meta (the model the gateway
 * reported serving, dimensions, vector format) and checkpoint, so resume, dedup, ordered writes
 * and the model checks behave the same whatever the target.
 */
import { createHash } from 'node:crypto';
import { dirname, extname, join } from 'node:path';
import { CliError, ExitCode, usageError } from '../../core/errors.js';
import { base64ToFloat32, float32ToBase64, float32ToJson } from '../../core/vectors.js';
import type { OutputRecord } from '../embed/runner.js';

export interface IndexMeta {
  format: 'embctl-embeddings';
  version: 1;
  /** The model the gateway reported serving: what every vector in the index came from. */
  model: string;
  requested_model: string;
  /** The `dimensions` asked of the model, when the run shortened its vectors: a query must ask the same. */
  requested_dimensions?: number;
  dimensions: number;
  vector_format: 'float' | 'base64';
  text: boolean;
  records: number;
  /** Source fields carried into each record's metadata (`--metadata-field`, `--metadata-column`). */
  metadata_fields?: string[];
  created_at: string;
  updated_at: string;
  embctl_version: string;
}

export interface Checkpoint {
  /** Sources and options of the run that wrote it; another run appends instead of resuming. */
  fingerprint: string;
  /** Records, and the target's position (bytes of a file, rows of a table), before this run started. */
  base_records: number;
  base_bytes: number;
  /** Records this run has written, and the target's position after the last of them. */
  records: number;
  bytes: number;
  /** SHA-256 of the ids and texts of this run's records, in order, to prove a resume sees the same input. */
  input_sha256: string;
}

/**
 * Appends records in order; what a checkpoint names is exactly what a resumed run keeps. A target
 * may buffer: `records` and `position` count only what it holds durably, `flush` makes the rest so.
 */
export interface IndexAppender {
  readonly records: number;
  /** Where the index ends now: what a checkpoint records, and what reopening keeps. */
  readonly position: number;
  append(records: OutputRecord[], includeText: boolean): void | Promise<void>;
  /** The serialized `embedding` value of record `position` (a copy reuses it). */
  embeddingAt(position: number): string | Promise<string>;
  flush(): void | Promise<void>;
  saveCheckpoint(checkpoint: Checkpoint): void;
  saveMeta(meta: IndexMeta): void;
  close(): void | Promise<void>;
}

export interface Hit {
  rank: number;
  score: number;
  id: string;
  text?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

const PART_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `PREFIX:LOCATION[#part]` split into the location and the part's name (`default` when absent),
 * both checked: the part becomes a table name, so it is letters, digits, - and _ only.
 */
export function splitSpec(
  spec: string,
  shape: { prefix: string; place: string; part: string; forms: string; example: string },
): { location: string; part: string } {
  const rest = spec.slice(shape.prefix.length);
  const hash = rest.lastIndexOf('#');
  const location = hash === -1 ? rest : rest.slice(0, hash);
  const part = hash === -1 ? 'default' : rest.slice(hash + 1);
  if (!location) throw usageError(`'${spec}' names no ${shape.place}`, `write ${shape.forms}`);
  if (!PART_NAME.test(part))
    throw usageError(
      `'${part}' in '${spec}' is not a ${shape.part} name`,
      `use letters, digits, - and _ (at most 64), e.g. ${shape.example}`,
    );
  return { location, part };
}

/**
 * An index beside `absoluteSpec`, of the same kind and in the same file or directory, named `name`:
 * where a migration writes unless told (`sqlite:F#docs` → `sqlite:F#name`, `dir/docs.jsonl` → `dir/name.jsonl`).
 */
export function siblingOf(absoluteSpec: string, name: string): string {
  const part = name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 64);
  const hash = absoluteSpec.lastIndexOf('#');
  if (/^(sqlite|lancedb):/.test(absoluteSpec) && hash !== -1) return `${absoluteSpec.slice(0, hash + 1)}${part}`;
  return join(dirname(absoluteSpec), `${part}${extname(absoluteSpec) || '.jsonl'}`);
}

/** A record's serialized embedding (numbers, or a base64 string) as float32: what vector stores hold. */
export function vectorOf(embedding: string): Float32Array {
  const value = JSON.parse(embedding) as number[] | string;
  return typeof value === 'string' ? base64ToFloat32(value) : Float32Array.from(value);
}

/** A stored vector serialized as the index's records are (a copy of a text reuses it). */
export const serializedVector = (vector: Float32Array, meta: IndexMeta | undefined) =>
  meta?.vector_format === 'base64' ? JSON.stringify(float32ToBase64(vector)) : float32ToJson(vector);

/** The content hash each row keeps: the text it was embedded from. */
export const contentHash = (text: string) => createHash('sha256').update(text).digest('hex');

/** A target's nearest rows (cosine distance, metadata as JSON) as hits: scores, `--min-score`, ranks. */
export function hitsOf(
  rows: { distance: number; id: string; text: string | null; metadata: string | null }[],
  minScore: number | undefined,
): Hit[] {
  return rows
    .map((row) => ({ ...row, score: 1 - row.distance }))
    .filter((row) => minScore === undefined || row.score >= minScore)
    .map((row, i) => ({
      rank: i + 1,
      score: row.score,
      id: row.id,
      text: row.text ?? undefined,
      ...(row.metadata ? { metadata: JSON.parse(row.metadata) as Record<string, unknown> } : {}),
    }));
}

export interface SearchQuery {
  k: number;
  minScore?: number | undefined;
  /** field → value: only records whose metadata holds every pair. */
  where?: Record<string, string> | undefined;
  /** Compare with every vector even where the target has a faster index. */
  exact?: boolean | undefined;
}

export interface SearchableIndex {
  readonly meta: IndexMeta;
  readonly count: number;
  /** One list of hits per query vector, best first (cosine similarity). */
  search(queries: Float32Array[], query: SearchQuery): Promise<Hit[][]>;
  close(): void;
}

/** A stored row as a migration reads and verifies it: no vector, only its length. */
export interface StoredRow {
  id: string;
  text: string | null;
  metadata: Record<string, unknown> | null;
  /** SHA-256 of the text it was embedded from; null where the target keeps none (JSONL: its text is compared). */
  contentSha256: string | null;
  /** The model that made the row (the index's, where rows do not record their own). */
  model: string;
  /** Of its vector (0 when none, or not asked for). */
  dimensions: number;
}

export interface IndexTarget {
  /** As the user wrote it: every message names the index by it. */
  readonly name: string;
  /** The same index with an absolute path: what an alias records, valid from any directory. */
  readonly absolute: string;
  /** The directory it would be written in, when that does not exist. */
  missingDirectory(): string | undefined;
  /** Something is there that is not an index this target can continue (a foreign file). */
  foreign(): boolean;
  meta(): IndexMeta | undefined;
  checkpoint(): Checkpoint | undefined;
  /** Deletes the index (--force). */
  remove(): void;
  /** Opens for appending, dropping anything past `keepPosition` (the last checkpoint) first. */
  open(keepPosition: number | undefined): IndexAppender | Promise<IndexAppender>;
  /** Opens for search; undefined when there is no index. */
  reader(): Promise<SearchableIndex | undefined>;
  /**
   * Every row in order, streamed (never the whole index in memory). `dimensions: false` when the
   * vectors' lengths are not needed (they are 0 then): a JSONL line's vector is not even scanned.
   */
  rows(options?: { dimensions: boolean }): AsyncIterable<StoredRow>;
  /** Rows held now (an interrupted run's included). */
  count(): Promise<number>;
  /** Bytes on disk (for a collection or table sharing a file or directory, its own part). */
  size(): Promise<number>;
}

/** `sqlite:PATH#collection`, `lancedb:DIR#table` → that target; anything else is a JSONL file path. */
export async function openTarget(spec: string): Promise<IndexTarget> {
  if (spec.startsWith('sqlite:')) {
    const { sqliteTarget } = await import('./sqlite.js');
    return sqliteTarget(spec);
  }
  if (spec.startsWith('lancedb:')) {
    const { lancedbTarget } = await import('./lancedb.js');
    return lancedbTarget(spec);
  }
  const { jsonlTarget } = await import('./jsonl.js');
  return jsonlTarget(spec);
}

/**
 * The target `--out` names, once it can be written: its directory there, and (unless `force` will
 * replace it when writing starts) not something else's file. Its meta, when it holds an index that
 * `force` does not replace.
 */
export async function writableTarget(
  spec: string,
  force: boolean | undefined,
): Promise<{ target: IndexTarget; meta: IndexMeta | undefined }> {
  const target = await openTarget(spec);
  const missing = target.missingDirectory();
  if (missing)
    throw usageError(`the directory of --out '${spec}' does not exist`, `create it first: mkdir -p ${missing}`);
  if (force) return { target, meta: undefined };
  if (target.foreign())
    throw new CliError(
      `${spec} exists and is not an embctl index (no ${spec}.meta.json)`,
      ExitCode.conflict,
      'write to another --out, or pass --force to replace it',
    );
  return { target, meta: target.meta() };
}
