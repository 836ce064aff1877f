/** Files on SQLite: metadata in `files`, bytes in `file_chunks`, in the store's own database. */
import type Database from 'better-sqlite3';
import { BATCH_FILE_PAGE, FILE_COLUMNS, PRUNED_FILES, resultChunk, storedFile, type FileRow } from '../file-rows.js';
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
    fromBatch: db.prepare(
      'INSERT INTO files (id, owner, purpose, filename, status, created_at, expires_at, batch_id, batch_state, lines, ' +
        "bytes) SELECT @id, @owner, 'batch_output', @filename, 'processed', @created_at, @expires_at, @batchId, @state, " +
        'COUNT(*), COALESCE(SUM(length(CAST(result AS BLOB)) + 1), 0) FROM batch_items WHERE batch_id = @batchId ' +
        'AND state = @state HAVING COUNT(*) > 0',
    ),
    source: db.prepare<[string], { batch_id: string | null; batch_state: string | null }>(
      'SELECT batch_id, batch_state FROM files WHERE id = ?',
    ),
    results: db.prepare<[string, string, number, number], { line: number; result: string }>(
      'SELECT line, result FROM batch_items WHERE batch_id = ? AND state = ? AND line > ? ORDER BY line LIMIT ?',
    ),
    remove: db.prepare('DELETE FROM files WHERE id = ?'),
    // A batch's lines go with the last file made from them.
    orphaned: db.prepare(
      'DELETE FROM batch_items WHERE batch_id = @batch AND NOT EXISTS (SELECT 1 FROM files WHERE batch_id = @batch)',
    ),
    prunedBatches: db.prepare<[number, number], { batch_id: string }>(
      `SELECT DISTINCT batch_id FROM files WHERE batch_id IS NOT NULL AND (${PRUNED_FILES.replace(/\$\d/g, '?')})`,
    ),
    prune: db.prepare(`DELETE FROM files WHERE ${PRUNED_FILES.replace(/\$\d/g, '?')}`),
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
    async fromBatch(file) {
      if (q.fromBatch.run(file).changes === 0) return undefined;
      return storedFile(q.get.get(file.id)!);
    },
    async *chunks(id) {
      const source = q.source.get(id);
      if (source?.batch_id) {
        for (let after = 0; ; ) {
          const page = q.results.all(source.batch_id, source.batch_state!, after, BATCH_FILE_PAGE);
          if (page.length === 0) return;
          yield resultChunk(page);
          after = page.at(-1)!.line;
        }
      }
      for (let seq = 0; ; seq++) {
        const row = q.chunk.get(id, seq);
        if (!row) return;
        yield row.data;
      }
    },
    // Read, then write: begun deferred, such a transaction fails at once (SQLITE_BUSY) if another
    // process wrote in between; begun immediate, it waits for the lock.
    async delete(id) {
      return db
        .transaction(() => {
          const batch = q.source.get(id)?.batch_id;
          const deleted = q.remove.run(id).changes > 0;
          if (batch) q.orphaned.run({ batch });
          return deleted;
        })
        .immediate();
    },
    async prune(nowS, abandonedBefore) {
      return db
        .transaction(() => {
          const batches = q.prunedBatches.all(nowS, abandonedBefore);
          const pruned = q.prune.run(nowS, abandonedBefore).changes;
          for (const { batch_id } of batches) q.orphaned.run({ batch: batch_id });
          return pruned;
        })
        .immediate();
    },
  };
}
