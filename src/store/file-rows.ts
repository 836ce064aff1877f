/** The files tables' rows as both engines hold them, and the listing order they share. */
import type { StoredFile } from './store.js';

export interface FileRow {
  id: string;
  owner: string;
  purpose: string;
  filename: string;
  bytes: number | string;
  lines: number | string;
  status: string;
  created_at: number | string;
  expires_at: number | string | null;
  seq: number | string;
}

/** PostgreSQL answers BIGINT as strings: every number is read back as one. */
export function storedFile(row: FileRow): StoredFile {
  return {
    id: row.id,
    owner: row.owner,
    purpose: row.purpose,
    filename: row.filename,
    bytes: Number(row.bytes),
    lines: Number(row.lines),
    status: row.status as StoredFile['status'],
    created_at: Number(row.created_at),
    expires_at: row.expires_at === null ? null : Number(row.expires_at),
  };
}

/** Files are listed by `seq`, the order they were begun in: a stable cursor even within one second. */
export const FILE_COLUMNS = 'id, owner, purpose, filename, bytes, lines, status, created_at, expires_at, seq';

/** Chunks are at most this large: a file is read back one chunk in memory at a time. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

/** A batch-backed file's content is read this many result lines at a time. */
export const BATCH_FILE_PAGE = 400;

/** One page of result lines as one chunk of the file. */
export const resultChunk = (results: { result: string }[]) => Buffer.from(results.map((r) => `${r.result}\n`).join(''));

/** Files that prune deletes: expired, or uploads abandoned (two parameters: now, abandoned-before). */
export const PRUNED_FILES =
  "(expires_at IS NOT NULL AND expires_at <= $1) OR (status = 'uploading' AND created_at < $2)";
