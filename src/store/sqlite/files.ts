/** Files on SQLite: metadata in `files`, bytes in `file_chunks`, in the store's own database. */
import type Database from 'better-sqlite3';
import { FILE_COLUMNS, storedFile, type FileRow } from '../file-rows.js';
import type { FileListQuery, FileStore } from '../store.js';

export function sqliteFiles(db: Database.Database): FileStore {
  const q = {
    begin: db.prepare(
      "INSERT INTO files (id, owner, purpose, filename, status, created_at) VALUES (@id, @owner, '', @filename, " +
        "'uploading', @created_at)",
    ),
    append: db.prepare('INSERT INTO file_chunks (file_id, seq, data) VALUES (?, ?, ?)'),
    finish: db.prepare(
      "UPDATE files SET status = 'processed', purpose = @purpose, bytes = @bytes, lines = @lines, " +
        'expires_at = @expires_at WHERE id = @id',
    ),
    get: db.prepare<[string], FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE id = ?`),
    chunk: db.prepare<[string, number], { data: Buffer }>('SELECT data FROM file_chunks WHERE file_id = ? AND seq = ?'),
    remove: db.prepare('DELETE FROM files WHERE id = ?'),
    prune: db.prepare(
      "DELETE FROM files WHERE (expires_at IS NOT NULL AND expires_at <= ?) OR (status = 'uploading' AND created_at < ?)",
    ),
  };
  const seqOf = db.prepare<[string], { seq: number }>('SELECT seq FROM files WHERE id = ?');
  return {
    async begin(file) {
      q.begin.run({ id: file.id, owner: file.owner, filename: file.filename, created_at: file.created_at });
    },
    async append(id, seq, chunk) {
      q.append.run(id, seq, chunk);
    },
    async finish(id, done) {
      q.finish.run({ id, ...done });
      return storedFile(q.get.get(id)!);
    },
    async get(id) {
      const row = q.get.get(id);
      return row && storedFile(row);
    },
    async list(query: FileListQuery) {
      const cursor = query.after === undefined ? undefined : seqOf.get(query.after)?.seq;
      const before = query.order === 'desc';
      const rows = db
        .prepare<unknown[], FileRow>(
          `SELECT ${FILE_COLUMNS} FROM files WHERE owner = ? AND status = 'processed'` +
            (query.purpose !== undefined ? ' AND purpose = ?' : '') +
            (cursor !== undefined ? ` AND seq ${before ? '<' : '>'} ?` : '') +
            ` ORDER BY seq ${before ? 'DESC' : 'ASC'} LIMIT ?`,
        )
        .all(
          query.owner,
          ...(query.purpose !== undefined ? [query.purpose] : []),
          ...(cursor !== undefined ? [cursor] : []),
          query.limit,
        );
      return rows.map(storedFile);
    },
    async *chunks(id) {
      for (let seq = 0; ; seq++) {
        const row = q.chunk.get(id, seq);
        if (!row) return;
        yield row.data;
      }
    },
    async delete(id) {
      return q.remove.run(id).changes > 0;
    },
    async prune(nowS, abandonedBefore) {
      return q.prune.run(nowS, abandonedBefore).changes;
    },
  };
}
