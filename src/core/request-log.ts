/**
 * Request Logs: the row recorded for every `/v1/embeddings` call, and the filters over them, shared
 * by the gateway (admin API, SSE stream) and the CLI (which validates filters before asking).
 * A row never holds input text, vectors or secrets.
 */
import type { ValidationIssue } from './entity.js';

export interface RequestLogRow {
  /** The call's `x-request-id`. */
  id: string;
  created_at: string;
  key_id: string | null;
  key_name: string | null;
  requested_model: string | null;
  /**
   * The catalogue's `entity/model` the call was routed to, whatever name it was asked by; null when
   * it was refused before routing. Usage groups by it, so one model is one row.
   */
  routed_model: string | null;
  /** What the upstream said it served. */
  resolved_model: string | null;
  entity_id: string | null;
  provider: string | null;
  input_count: number;
  prompt_tokens: number;
  /** True when the provider reported no usage and the tokenizer's count stands in. */
  usage_estimated: boolean;
  dimensions: number | null;
  encoding: 'float' | 'base64' | null;
  status: number;
  error_code: string | null;
  latency_ms: number;
  upstream_ms: number | null;
  /** USD actually spent upstream. */
  cost_usd: number;
  /** The upstream served another model than the one routed to: the silent-corruption signal. */
  model_mismatch: boolean;
  /** Inputs answered without going upstream: cache hits, and repeats of an input within the call. */
  cached_inputs: number;
  /** Of `prompt_tokens` (the call's tokens as reported to the caller), those not sent upstream. */
  cached_tokens: number;
  /** What `cached_tokens` would have cost at the entity's price. */
  cost_saved_usd: number;
  /** The batch this call ran for (`POST /v1/batches`); null for a live call. */
  batch_id: string | null;
}

/** A stored row: `seq` orders rows and is the SSE event id, so a reconnect resumes exactly. */
export interface StoredLogRow extends RequestLogRow {
  seq: number;
}

export type StatusMatch = { class: 2 | 3 | 4 | 5 } | { code: number };

export interface LogFilter {
  since?: number;
  until?: number;
  model?: string[];
  resolvedModel?: string[];
  key?: string[];
  entity?: string[];
  provider?: string[];
  status?: StatusMatch[];
  minLatencyMs?: number;
  /** Calls a batch job made. */
  batch?: string[];
}

const RELATIVE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Durations beyond this (about 100 years) are not a time anyone means. */
const MAX_DURATION_MS = 100 * 365 * 86_400_000;

/** `500ms`, `30s`, `15m`, `2h`, `30d`, `1w` in milliseconds; undefined when not a duration (or absurdly long). */
export function parseDurationMs(value: string): number | undefined {
  const relative = RELATIVE.exec(value.trim());
  if (!relative) return undefined;
  const ms = Number(relative[1]) * UNIT_MS[relative[2]!]!;
  return Number.isFinite(ms) && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** `15m`, `2h`, `30d` (that long before `now`) or an ISO 8601 time; undefined when neither. */
export function parseTime(value: string, now = Date.now()): number | undefined {
  const duration = parseDurationMs(value);
  if (duration !== undefined) return now - duration;
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

export function parseStatus(value: string): StatusMatch | undefined {
  const v = value.trim().toLowerCase();
  const cls = /^([2345])xx$/.exec(v);
  if (cls) return { class: Number(cls[1]) as 2 | 3 | 4 | 5 };
  if (/^[1-5]\d\d$/.test(v)) return { code: Number(v) };
  return undefined;
}

/** Values one filter parameter may list (OR-ed): enough for any real query, bounded for the database. */
export const MAX_FILTER_VALUES = 100;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((v) => v.trim())
    .filter(Boolean);

/** The query parameters a log filter reads, as the admin API names them. */
export const LOG_FILTER_PARAMS = [
  'since',
  'until',
  'model',
  'resolved_model',
  'key',
  'entity',
  'provider',
  'status',
  'min_latency',
  'batch_id',
] as const;

/** Separate parameters AND together; comma lists inside one parameter OR together. */
export function parseLogFilter(
  params: Partial<Record<(typeof LOG_FILTER_PARAMS)[number], string>>,
  now = Date.now(),
): { filter: LogFilter; issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  const filter: LogFilter = {};
  for (const [name, value] of Object.entries(params)) {
    const count = list(value)?.length ?? 0;
    if (count > MAX_FILTER_VALUES)
      issues.push({ field: name, message: `lists ${count} values; at most ${MAX_FILTER_VALUES} are allowed` });
  }
  if (issues.length) return { filter, issues };
  for (const bound of ['since', 'until'] as const) {
    const value = params[bound];
    if (value === undefined || value === '') continue;
    const time = parseTime(value, now);
    if (time === undefined)
      issues.push({
        field: bound,
        message: `must be a duration like 15m, 2h, 30d or an ISO time like 2026-01-31T12:00:00Z; got '${value}'`,
      });
    else filter[bound] = time;
  }
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    issues.push({ field: 'since', message: 'is later than until' });
  }
  const model = list(params.model);
  if (model?.length) filter.model = model;
  const resolved = list(params.resolved_model);
  if (resolved?.length) filter.resolvedModel = resolved;
  const key = list(params.key);
  if (key?.length) filter.key = key;
  const entity = list(params.entity);
  if (entity?.length) filter.entity = entity;
  const provider = list(params.provider);
  if (provider?.length) filter.provider = provider;
  const batch = list(params.batch_id);
  if (batch?.length) filter.batch = batch;
  const statuses = list(params.status);
  if (statuses?.length) {
    const parsed = statuses.map(parseStatus);
    const bad = statuses.filter((_, i) => parsed[i] === undefined);
    if (bad.length)
      issues.push({
        field: 'status',
        message: `must be 2xx, 4xx, 5xx or an HTTP code like 429; got '${bad.join(',')}'`,
      });
    else filter.status = parsed as StatusMatch[];
  }
  if (params.min_latency !== undefined && params.min_latency !== '') {
    const ms = Number(params.min_latency);
    if (!Number.isFinite(ms) || ms < 0)
      issues.push({
        field: 'min_latency',
        message: `must be a number of milliseconds ≥ 0; got '${params.min_latency}'`,
      });
    else filter.minLatencyMs = ms;
  }
  return { filter, issues };
}

function statusMatches(status: number, match: StatusMatch): boolean {
  return 'code' in match ? status === match.code : Math.floor(status / 100) === match.class;
}

/** The same filter in memory, for rows streamed live. */
export function matchesFilter(row: RequestLogRow, filter: LogFilter): boolean {
  const time = Date.parse(row.created_at);
  if (filter.since !== undefined && time < filter.since) return false;
  if (filter.until !== undefined && time > filter.until) return false;
  if (
    filter.model &&
    !filter.model.includes(row.requested_model ?? '') &&
    !filter.model.includes(row.routed_model ?? '')
  )
    return false;
  if (filter.resolvedModel && !filter.resolvedModel.includes(row.resolved_model ?? '')) return false;
  if (filter.key && !filter.key.some((k) => k === row.key_id || k === row.key_name)) return false;
  if (filter.entity && !filter.entity.includes(row.entity_id ?? '')) return false;
  if (filter.provider && !filter.provider.includes(row.provider ?? '')) return false;
  if (filter.status && !filter.status.some((m) => statusMatches(row.status, m))) return false;
  if (filter.minLatencyMs !== undefined && row.latency_ms < filter.minLatencyMs) return false;
  if (filter.batch && !filter.batch.includes(row.batch_id ?? '')) return false;
  return true;
}

export const USAGE_GROUPS = ['model', 'key', 'day', 'provider', 'entity'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

export interface UsageRow {
  model?: string;
  key?: string;
  day?: string;
  provider?: string;
  entity?: string;
  requests: number;
  errors: number;
  inputs: number;
  prompt_tokens: number;
  cost_usd: number;
  cached_inputs: number;
  cached_tokens: number;
  cost_saved_usd: number;
}

/** `text-embedding-3-small` and `text-embedding-3-small:latest` or `models/…` name the same model. */
export function sameModel(routed: string, reported: string): boolean {
  const norm = (m: string) => m.replace(/^models\//, '').replace(/:latest$/, '');
  return norm(routed) === norm(reported);
}
