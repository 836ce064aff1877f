/** Request logs in SQLite: filters compiled to indexed SQL, usage aggregated in the database. */
import type Database from 'better-sqlite3';
import type { RequestLogRow, StoredLogRow, UsageRow } from '../../core/request-log.js';
import { LOG_COLUMNS, Params, usageQuery, whereOf } from '../log-queries.js';
import type { RequestLogStore } from '../store.js';

interface LogRecord extends Omit<StoredLogRow, 'created_at' | 'usage_estimated' | 'model_mismatch'> {
  created_at: number;
  usage_estimated: number;
  model_mismatch: number;
}

const toRow = (r: LogRecord): StoredLogRow => ({
  ...r,
  created_at: new Date(r.created_at).toISOString(),
  usage_estimated: r.usage_estimated === 1,
  model_mismatch: r.model_mismatch === 1,
});

const toRecord = (row: RequestLogRow) => ({
  ...row,
  created_at: Date.parse(row.created_at),
  usage_estimated: row.usage_estimated ? 1 : 0,
  model_mismatch: row.model_mismatch ? 1 : 0,
});

export function sqliteRequestLogs(db: Database.Database): RequestLogStore {
  const insert = db.prepare(
    `INSERT INTO request_logs (${LOG_COLUMNS.join(', ')}) VALUES (${LOG_COLUMNS.map((c) => `@${c}`).join(', ')})`,
  );
  const getById = db.prepare<[string], LogRecord>('SELECT * FROM request_logs WHERE id = ?');
  const appendAll = db.transaction((rows: RequestLogRow[]) =>
    rows.map((row): StoredLogRow => ({ ...row, seq: Number(insert.run(toRecord(row)).lastInsertRowid) })),
  );

  return {
    async append(rows) {
      return rows.length ? appendAll.immediate(rows) : [];
    },
    async page(filter, limit, before) {
      const params = new Params('sqlite');
      const where = whereOf(filter, params);
      const cursor = before === undefined ? '' : ` AND seq < ${params.add(before)}`;
      const records = db
        .prepare<unknown[], LogRecord>(
          `SELECT * FROM request_logs WHERE ${where}${cursor} ORDER BY seq DESC LIMIT ${params.add(limit + 1)}`,
        )
        .all(...params.values);
      const rows = records.slice(0, limit).map(toRow);
      return { rows, nextCursor: records.length > limit ? rows[rows.length - 1]!.seq : undefined };
    },
    async after(filter, seq, limit) {
      const params = new Params('sqlite');
      const where = whereOf(filter, params);
      return db
        .prepare<unknown[], LogRecord>(
          `SELECT * FROM request_logs WHERE ${where} AND seq > ${params.add(seq)} ORDER BY seq ASC LIMIT ${params.add(limit)}`,
        )
        .all(...params.values)
        .map(toRow);
    },
    async get(id) {
      const record = getById.get(id);
      return record ? toRow(record) : undefined;
    },
    async usage(filter, groupBy) {
      const { sql, values } = usageQuery(filter, groupBy, 'sqlite');
      return db
        .prepare<unknown[], UsageRow>(sql)
        .all(...values)
        .filter((r) => r.requests > 0);
    },
    async prune(olderThan, maxRows) {
      return db
        .transaction(() => {
          let removed = db.prepare('DELETE FROM request_logs WHERE created_at < ?').run(olderThan).changes;
          const cutoff = db
            .prepare<[number], { seq: number }>('SELECT seq FROM request_logs ORDER BY seq DESC LIMIT 1 OFFSET ?')
            .get(maxRows - 1);
          if (cutoff) removed += db.prepare('DELETE FROM request_logs WHERE seq < ?').run(cutoff.seq).changes;
          return removed;
        })
        .immediate();
    },
  };
}
