/**
 * Request-log SQL shared by the stores: the columns, filters compiled to clauses with bound
 * parameters (never interpolated values), and usage groups. Only placeholders and the day
 * expression differ between SQLite (`?`) and PostgreSQL (`$1`, `$2`, …).
 */
import type { LogFilter, StatusMatch, UsageGroup } from '../core/request-log.js';

export type Dialect = 'sqlite' | 'postgres';

export const LOG_COLUMNS = [
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
  'cached_inputs',
  'cached_tokens',
  'cost_saved_usd',
  'batch_id',
] as const;

/** Bound parameters and their placeholders, in order. */
export class Params {
  readonly values: unknown[] = [];
  constructor(private readonly dialect: Dialect) {}

  add(value: unknown): string {
    this.values.push(value);
    return this.dialect === 'sqlite' ? '?' : `$${this.values.length}`;
  }
}

function inList(column: string, values: string[], params: Params): string {
  return `${column} IN (${values.map((v) => params.add(v)).join(', ')})`;
}

function statusClause(matches: StatusMatch[], params: Params): string {
  const one = (m: StatusMatch) =>
    'code' in m
      ? `status = ${params.add(m.code)}`
      : `status BETWEEN ${params.add(m.class * 100)} AND ${params.add(m.class * 100 + 99)}`;
  return `(${matches.map(one).join(' OR ')})`;
}

/** The WHERE clause of a filter (`1 = 1` for none), its values added to `params`. */
export function whereOf(filter: LogFilter, params: Params): string {
  const clauses: string[] = [];
  if (filter.since !== undefined) clauses.push(`created_at >= ${params.add(filter.since)}`);
  if (filter.until !== undefined) clauses.push(`created_at <= ${params.add(filter.until)}`);
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
  if (filter.minLatencyMs !== undefined) clauses.push(`latency_ms >= ${params.add(filter.minLatencyMs)}`);
  if (filter.batch) clauses.push(inList('batch_id', filter.batch, params));
  return clauses.length ? clauses.join(' AND ') : '1 = 1';
}

const DAY: Record<Dialect, string> = {
  sqlite: "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')",
  postgres: "to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
};

/** A model is one row whatever name it was asked by: the routed name, else the requested one. */
export function groupExpression(group: UsageGroup, dialect: Dialect): string {
  switch (group) {
    case 'model':
      return "COALESCE(routed_model, requested_model, '(none)')";
    case 'key':
      return "COALESCE(key_name, key_id, '(none)')";
    case 'day':
      return DAY[dialect];
    case 'provider':
      return "COALESCE(provider, '(none)')";
    case 'entity':
      return "COALESCE(entity_id, '(none)')";
  }
}

/** `SELECT … FROM request_logs WHERE … GROUP BY …` for usage, with every sum cast to a plain number. */
export function usageQuery(
  filter: LogFilter,
  groupBy: UsageGroup[],
  dialect: Dialect,
): { sql: string; values: unknown[] } {
  const params = new Params(dialect);
  const where = whereOf(filter, params);
  const int = (expr: string) => (dialect === 'postgres' ? `CAST(${expr} AS INTEGER)` : expr);
  const select = [
    ...groupBy.map((g) => `${groupExpression(g, dialect)} AS "${g}"`),
    `${int('COUNT(*)')} AS requests`,
    `${int('COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0)')} AS errors`,
    `${int('COALESCE(SUM(input_count), 0)')} AS inputs`,
    `${int('COALESCE(SUM(prompt_tokens), 0)')} AS prompt_tokens`,
    `CAST(ROUND(CAST(COALESCE(SUM(cost_usd), 0) AS NUMERIC), 9) AS DOUBLE PRECISION) AS cost_usd`,
    `${int('COALESCE(SUM(cached_inputs), 0)')} AS cached_inputs`,
    `${int('COALESCE(SUM(cached_tokens), 0)')} AS cached_tokens`,
    `CAST(ROUND(CAST(COALESCE(SUM(cost_saved_usd), 0) AS NUMERIC), 9) AS DOUBLE PRECISION) AS cost_saved_usd`,
  ].join(', ');
  const names = groupBy.map((g) => `"${g}"`).join(', ');
  const grouping = groupBy.length ? ` GROUP BY ${names} ORDER BY ${names}` : '';
  return { sql: `SELECT ${select} FROM request_logs WHERE ${where}${grouping}`, values: params.values };
}
