/** OpenAI's cursor pagination (`limit`, `after`; `first_id`, `last_id`, `has_more`), for files and batches. */
import { invalidRequest } from '../../core/errors.js';

/** `limit` from the query: a whole number from 1 to `max`, else `fallback` when absent. */
export function pageLimit(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > max)
    throw invalidRequest(`'limit' must be a whole number from 1 to ${max}; got '${raw}'.`, 'limit', 'invalid_value');
  return limit;
}

/** A page from `limit + 1` rows read (the extra one says whether there are more). */
export function cursorPage<R, V extends { id: string }>(rows: R[], limit: number, view: (row: R) => V) {
  const data = rows.slice(0, limit).map(view);
  return {
    object: 'list' as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: rows.length > limit,
  };
}
