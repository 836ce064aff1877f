/**
 * Usage counters in PostgreSQL: admission and settlement are one call each to the functions of
 * migration 4, which take the key's transaction-scoped advisory lock for that statement only. One
 * lock per statement: no two calls can deadlock, calls of different keys never wait on each other,
 * and a call of the same key waits for the database's work, never for another gateway's event loop.
 */
import type pg from 'pg';
import type { UsageCounterStore, UsageWindows, WindowTotals } from '../store.js';
import { totalsOf, type CounterRow } from '../usage-counters.js';
import { USAGE_LOCK } from './pool.js';

const ADMIT =
  'SELECT * FROM embctl_usage_admit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::bigint, $11::bigint, ' +
  '$12::double precision, $13::double precision)';
const ADJUST = 'SELECT embctl_usage_adjust($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)';
const READ =
  'SELECT kind, requests, tokens, spent, reserved FROM key_usage WHERE key_id = $1 AND ' +
  "((kind = 'minute' AND start = $2) OR (kind = 'day' AND start = $3) OR (kind = 'month' AND start = $4))";

interface AdmitRow {
  o_admitted: boolean;
  o_requests: number;
  o_tokens: number;
  o_day_spent: number;
  o_day_reserved: number;
  o_month_spent: number;
  o_month_reserved: number;
}

const where = (keyId: string, w: UsageWindows) => [USAGE_LOCK, keyId, w.minute, w.day, w.month];

export function postgresUsageCounters(pool: pg.Pool): UsageCounterStore {
  return {
    async admit(keyId, windows, delta, caps) {
      const row = (
        await pool.query<AdmitRow>(ADMIT, [
          ...where(keyId, windows),
          delta.requests ?? 0,
          delta.tokens ?? 0,
          delta.dayReserved ?? 0,
          delta.monthReserved ?? 0,
          caps.requests ?? null,
          caps.tokens ?? null,
          caps.dayBudget ?? null,
          caps.monthBudget ?? null,
        ])
      ).rows[0]!;
      const current: WindowTotals = {
        requests: row.o_requests,
        tokens: row.o_tokens,
        daySpent: row.o_day_spent,
        dayReserved: row.o_day_reserved,
        monthSpent: row.o_month_spent,
        monthReserved: row.o_month_reserved,
      };
      return { admitted: row.o_admitted, current };
    },
    async adjust(keyId, windows, delta) {
      await pool.query(ADJUST, [
        ...where(keyId, windows),
        delta.requests ?? 0,
        delta.tokens ?? 0,
        delta.daySpent ?? 0,
        delta.dayReserved ?? 0,
        delta.monthSpent ?? 0,
        delta.monthReserved ?? 0,
      ]);
    },
    async totals(keyId, w) {
      return totalsOf((await pool.query<CounterRow>(READ, [keyId, w.minute, w.day, w.month])).rows);
    },
    async prune(olderThan) {
      return (await pool.query('DELETE FROM key_usage WHERE start < $1', [olderThan])).rowCount ?? 0;
    },
  };
}
