/** Files on PostgreSQL: metadata in `files`, bytes in `file_chunks`, shared by every replica. */
import type pg from 'pg';
import { BATCH_FILE_PAGE, FILE_COLUMNS, PRUNED_FILES, resultChunk, storedFile, type FileRow } from '../file-rows.js';
import { inTransaction } from './pool.js';
import type { FileListQuery, FileStore } from '../store.js';

/** A batch's lines go with the last file made from them. */
async function dropOrphaned(client: pg.PoolClient, deleted: { batch_id: string | null }[]) {
  for (const batch of new Set(deleted.map((r) => r.batch_id).filter((b) => b !== null)))
    await client.query(
      'DELETE FROM batch_items WHERE batch_id = $1 AND NOT EXISTS (SELECT 1 FROM files WHERE batch_id = $1)',
      [batch],
    );
}

export function postgresFiles(pool: pg.Pool): FileStore {
  const one = async (id: string) =>
    (await pool.query<FileRow>(`SELECT ${FILE_COLUMNS} FROM files WHERE id = $1`, [id])).rows[0];
  return {
    async begin(file) {
      await pool.query(
        "INSERT INTO files (id, owner, purpose, filename, status, created_at) VALUES ($1, $2, '', $3, 'uploading', $4)",
        [file.id, file.owner, file.filename, file.created_at],
      );
    },
    async append(id, seq, chunk) {
      await pool.query('INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)', [id, seq, chunk]);
    },
    async finish(id, done) {
      await pool.query(
        "UPDATE files SET status = 'processed', purpose = $1, bytes = $2, lines = $3, expires_at = $4 WHERE id = $5",
        [done.purpose, done.bytes, done.lines, done.expires_at, id],
      );
      return storedFile((await one(id))!);
    },
    async get(id) {
      const row = await one(id);
      return row && storedFile(row);
    },
    async list(query: FileListQuery) {
      const params: unknown[] = [query.owner];
      let where = "owner = $1 AND status = 'processed'";
      if (query.purpose !== undefined) {
        params.push(query.purpose);
        where += ` AND purpose = $${params.length}`;
      }
      const before = query.order === 'desc';
      if (query.after !== undefined) {
        params.push(query.after);
        where += ` AND seq ${before ? '<' : '>'} (SELECT seq FROM files WHERE id = $${params.length})`;
      }
      params.push(query.limit);
      const { rows } = await pool.query<FileRow>(
        `SELECT ${FILE_COLUMNS} FROM files WHERE ${where} ORDER BY seq ${before ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
        params,
      );
      return rows.map(storedFile);
    },
    async fromBatch(file) {
      const { rowCount } = await pool.query(
        `INSERT INTO files (id, owner, purpose, filename, status, created_at, expires_at, batch_id, batch_state, lines, bytes)
         SELECT $1, $2, 'batch_output', $3, 'processed', $4, $5, $6, $7, COUNT(*), COALESCE(SUM(octet_length(result) + 1), 0)
         FROM batch_items WHERE batch_id = $6 AND state = $7 HAVING COUNT(*) > 0`,
        [file.id, file.owner, file.filename, file.created_at, file.expires_at, file.batchId, file.state],
      );
      return rowCount ? storedFile((await one(file.id))!) : undefined;
    },
    async *chunks(id) {
      const source = (
        await pool.query<{ batch_id: string | null; batch_state: string | null }>(
          'SELECT batch_id, batch_state FROM files WHERE id = $1',
          [id],
        )
      ).rows[0];
      if (source?.batch_id) {
        for (let after = 0; ; ) {
          const { rows } = await pool.query<{ line: number; result: string }>(
            'SELECT line, result FROM batch_items WHERE batch_id = $1 AND state = $2 AND line > $3 ORDER BY line LIMIT $4',
            [source.batch_id, source.batch_state, after, BATCH_FILE_PAGE],
          );
          if (rows.length === 0) return;
          yield resultChunk(rows);
          after = Number(rows.at(-1)!.line);
        }
      }
      for (let seq = 0; ; seq++) {
        const { rows } = await pool.query<{ data: Buffer }>(
          'SELECT data FROM file_chunks WHERE file_id = $1 AND seq = $2',
          [id, seq],
        );
        if (!rows[0]) return;
        yield rows[0].data;
      }
    },
    async delete(id) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ batch_id: string | null }>(
          'DELETE FROM files WHERE id = $1 RETURNING batch_id',
          [id],
        );
        await dropOrphaned(client, rows);
        return rows.length > 0;
      });
    },
    async prune(nowS, abandonedBefore) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ batch_id: string | null }>(
          `DELETE FROM files WHERE ${PRUNED_FILES} RETURNING batch_id`,
          [nowS, abandonedBefore],
        );
        await dropOrphaned(client, rows);
        return rows.length;
      });
    },
  };
}
