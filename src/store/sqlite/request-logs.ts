/** Request logs in SQLite: filters compiled to indexed SQL, usage aggregated in the database. */
import type Database from 'better-sqlite3';
import type {
  LogFilter,
  RequestLogRow,
  StatusMatch,
  StoredLogRow,
  UsageGroup,
  UsageRow,
} from '../../core/request-log.js';
import type { RequestLogStore } from '../store.js';

interface LogRecord extends Omit<StoredLogRow, 'created_at' | 'usage_estimated' | 'model_mismatch'> {
  created_at: number;
  usage_estimated: number;
  model_mismatch: number;
}

const COLUMNS = [
  'id',
  'created_at',
  'key_id',
  'key_name',
  'requested_model',
  'routed_model',
  'resolved_model',
  'entity_id',
  'provider',
  'input_count',
  'prompt_tokens',
  'usage_estimated',
  'dimensions',
  'encoding',
  'status',
  'error_code',
  'latency_ms',
  'upstream_ms',
  'cost_usd',
  'model_mismatch',
] as const;

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

function inList(column: string, values: string[], params: unknown[]): string {
  params.push(...values);
  return `${column} IN (${values.map(() => '?').join(', ')})`;
}

function statusClause(matches: StatusMatch[], params: unknown[]): string {
  return `(${matches
    .map((m) => {
      if ('code' in m) {
        params.push(m.code);
        return 'status = ?';
      }
      params.push(m.class * 100, m.class * 100 + 99);
      return 'status BETWEEN ? AND ?';
    })
    .join(' OR ')})`;
}

/** WHERE clause and parameters for a filter; every value is bound, never interpolated. */
export function whereOf(filter: LogFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.since !== undefined) {
    clauses.push('created_at >= ?');
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    clauses.push('created_at <= ?');
    params.push(filter.until);
  }
  if (filter.model)
    clauses.push(
      `(${inList('requested_model', filter.model, params)} OR ${inList('routed_model', filter.model, params)})`,
    );
  if (filter.resolvedModel) clauses.push(inList('resolved_model', filter.resolvedModel, params));
  if (filter.key)
    clauses.push(`(${inList('key_id', filter.key, params)} OR ${inList('key_name', filter.key, params)})`);
  if (filter.entity) clauses.push(inList('entity_id', filter.entity, params));
  if (filter.provider) clauses.push(inList('provider', filter.provider, params));
  if (filter.status) clauses.push(statusClause(filter.status, params));
  if (filter.minLatencyMs !== undefined) {
    clauses.push('latency_ms >= ?');
    params.push(filter.minLatencyMs);
  }
  return { sql: clauses.length ? clauses.join(' AND ') : '1 = 1', params };
}

const GROUP_SQL: Record<UsageGroup, string> = {
  model: "COALESCE(routed_model, requested_model, '(none)')",
  key: "COALESCE(key_name, key_id, '(none)')",
  day: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
  provider: "COALESCE(provider, '(none)')",
  entity: "COALESCE(entity_id, '(none)')",
};

export function sqliteRequestLogs(db: Database.Database): RequestLogStore {
  const insert = db.prepare(
    `INSERT INTO request_logs (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
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
      const { sql, params } = whereOf(filter);
      const cursor = before === undefined ? '' : ' AND seq < ?';
      const records = db
        .prepare<unknown[], LogRecord>(`SELECT * FROM request_logs WHERE ${sql}${cursor} ORDER BY seq DESC LIMIT ?`)
        .all(...params, ...(before === undefined ? [] : [before]), limit + 1);
      const rows = records.slice(0, limit).map(toRow);
      return { rows, nextCursor: records.length > limit ? rows[rows.length - 1]!.seq : undefined };
    },
    async after(filter, seq, limit) {
      const { sql, params } = whereOf(filter);
      return db
        .prepare<unknown[], LogRecord>(`SELECT * FROM request_logs WHERE ${sql} AND seq > ? ORDER BY seq ASC LIMIT ?`)
        .all(...params, seq, limit)
        .map(toRow);
    },
    async get(id) {
      const record = getById.get(id);
      return record ? toRow(record) : undefined;
    },
    async usage(filter, groupBy) {
      const { sql, params } = whereOf(filter);
      const groups = groupBy.map((g) => `${GROUP_SQL[g]} AS "${g}"`);
      const select = [
        ...groups,
        'COUNT(*) AS requests',
        'SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors',
        'SUM(input_count) AS inputs',
        'SUM(prompt_tokens) AS prompt_tokens',
        'ROUND(SUM(cost_usd), 9) AS cost_usd',
      ].join(', ');
      const grouping = groupBy.length
        ? ` GROUP BY ${groupBy.map((g) => `"${g}"`).join(', ')} ORDER BY ${groupBy.map((g) => `"${g}"`).join(', ')}`
        : '';
      return db
        .prepare<unknown[], UsageRow>(`SELECT ${select} FROM request_logs WHERE ${sql}${grouping}`)
        .all(...params)
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
