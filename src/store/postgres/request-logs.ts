/** Request logs in PostgreSQL: the same filters and groups as SQLite's, appended in commit order. */
import type pg from 'pg';
import type { StoredLogRow, UsageRow } from '../../core/request-log.js';
import { LOG_COLUMNS, Params, usageQuery, whereOf } from '../log-queries.js';
import type { RequestLogStore } from '../store.js';
import { APPEND_LOCK, inTransaction } from './pool.js';

interface LogRecord extends Omit<StoredLogRow, 'created_at'> {
  created_at: number;
}

const toRow = (r: LogRecord): StoredLogRow => ({ ...r, created_at: new Date(r.created_at).toISOString() });

export function postgresRequestLogs(pool: pg.Pool): RequestLogStore {
  const select = async (sql: string, values: unknown[]) => (await pool.query<LogRecord>(sql, values)).rows.map(toRow);

  return {
    async append(rows) {
      if (rows.length === 0) return [];
      return inTransaction(pool, async (client) => {
        // Held until commit: see the migration's note on seq.
        await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
        const params = new Params('postgres');
        const tuples = rows.map(
          (row) =>
            `(nextval('request_logs_seq'), ${LOG_COLUMNS.map((c) =>
              params.add(c === 'created_at' ? Date.parse(row.created_at) : row[c]),
            ).join(', ')})`,
        );
        const inserted = await client.query<{ id: string; seq: number }>(
          `INSERT INTO request_logs (seq, ${LOG_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} RETURNING id, seq`,
          params.values,
        );
        const seqs = new Map(inserted.rows.map((r) => [r.id, r.seq]));
        return rows.map((row): StoredLogRow => ({ ...row, seq: seqs.get(row.id)! }));
      });
    },
    async page(filter, limit, before) {
      const params = new Params('postgres');
      const where = whereOf(filter, params);
      const cursor = before === undefined ? '' : ` AND seq < ${params.add(before)}`;
      const rows = await select(
        `SELECT * FROM request_logs WHERE ${where}${cursor} ORDER BY seq DESC LIMIT ${params.add(limit + 1)}`,
        params.values,
      );
      const page = rows.slice(0, limit);
      return { rows: page, nextCursor: rows.length > limit ? page[page.length - 1]!.seq : undefined };
    },
    async after(filter, seq, limit) {
      const params = new Params('postgres');
      const where = whereOf(filter, params);
      return select(
        `SELECT * FROM request_logs WHERE ${where} AND seq > ${params.add(seq)} ORDER BY seq ASC LIMIT ${params.add(limit)}`,
        params.values,
      );
    },
    async get(id) {
      return (await select('SELECT * FROM request_logs WHERE id = $1', [id]))[0];
    },
    async usage(filter, groupBy) {
      const { sql, values } = usageQuery(filter, groupBy, 'postgres');
      return (await pool.query<UsageRow>(sql, values)).rows.filter((r) => r.requests > 0);
    },
    async prune(olderThan, maxRows) {
      return inTransaction(pool, async (client) => {
        let removed = (await client.query('DELETE FROM request_logs WHERE created_at < $1', [olderThan])).rowCount ?? 0;
        const cutoff = await client.query<{ seq: number }>(
          'SELECT seq FROM request_logs ORDER BY seq DESC LIMIT 1 OFFSET $1',
          [maxRows - 1],
        );
        if (cutoff.rows[0])
          removed +=
            (await client.query('DELETE FROM request_logs WHERE seq < $1', [cutoff.rows[0].seq])).rowCount ?? 0;
        return removed;
      });
    },
  };
}
