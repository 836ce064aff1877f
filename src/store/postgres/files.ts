/** Files on PostgreSQL: metadata in `files`, bytes in `file_chunks`, shared by every replica. */
import type pg from 'pg';
import { FILE_COLUMNS, storedFile, type FileRow } from '../file-rows.js';
import type { FileListQuery, FileStore } from '../store.js';

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
    async *chunks(id) {
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
      return ((await pool.query('DELETE FROM files WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },
    async prune(nowS, abandonedBefore) {
      const { rowCount } = await pool.query(
        "DELETE FROM files WHERE (expires_at IS NOT NULL AND expires_at <= $1) OR (status = 'uploading' AND created_at < $2)",
        [nowS, abandonedBefore],
      );
      return rowCount ?? 0;
    },
  };
}
