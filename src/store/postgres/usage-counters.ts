/**
 * Usage counters in PostgreSQL. Every read-check-add and every settlement of one key runs under that
 * key's transaction-scoped advisory lock: one lock per transaction, so no two can deadlock, and
 * different keys never wait on each other.
 */
import type pg from 'pg';
import type { UsageCounterStore, UsageWindows } from '../store.js';
import { rowDeltas, startOf, totalsOf, WINDOW_KINDS, type CounterRow } from '../usage-counters.js';
import { inTransaction, USAGE_LOCK } from './pool.js';

const READ =
  'SELECT kind, requests, tokens, spent, reserved FROM key_usage WHERE key_id = $1 AND ' +
  "((kind = 'minute' AND start = $2) OR (kind = 'day' AND start = $3) OR (kind = 'month' AND start = $4))";
const LOCK_KEY = 'SELECT pg_advisory_xact_lock($1, hashtext($2))';
const SEED =
  'INSERT INTO key_usage (key_id, kind, start, requests, tokens, spent, reserved) ' +
  "SELECT $1::text, $2::text, $3::bigint, 0, 0, CASE WHEN $2::text = 'minute' THEN 0 ELSE COALESCE(SUM(cost_usd), 0) END, 0 " +
  'FROM request_logs WHERE key_id = $1::text AND created_at >= $3::bigint ON CONFLICT DO NOTHING';
const ADD =
  'UPDATE key_usage SET requests = requests + $1, tokens = GREATEST(0, tokens + $2), spent = spent + $3, ' +
  'reserved = GREATEST(0, reserved + $4) WHERE key_id = $5 AND kind = $6 AND start = $7';

export function postgresUsageCounters(pool: pg.Pool): UsageCounterStore {
  const rowsOf = async (client: pg.Pool | pg.PoolClient, keyId: string, w: UsageWindows) =>
    (await client.query<CounterRow>(READ, [keyId, w.minute, w.day, w.month])).rows;
  const lockKey = (client: pg.PoolClient, keyId: string) => client.query(LOCK_KEY, [USAGE_LOCK, keyId]);
  const addAll = async (
    client: pg.PoolClient,
    keyId: string,
    windows: UsageWindows,
    delta: Parameters<typeof rowDeltas>[1],
  ) => {
    for (const [kind, start, ...values] of rowDeltas(windows, delta))
      await client.query(ADD, [...values, keyId, kind, start]);
  };

  return {
    admit: (keyId, windows, delta, accept) =>
      inTransaction(pool, async (client) => {
        await lockKey(client, keyId);
        let rows = await rowsOf(client, keyId, windows);
        if (rows.length < WINDOW_KINDS.length) {
          for (const kind of WINDOW_KINDS) await client.query(SEED, [keyId, kind, startOf(windows, kind)]);
          rows = await rowsOf(client, keyId, windows);
        }
        const current = totalsOf(rows);
        if (!accept(current)) return { admitted: false, current };
        await addAll(client, keyId, windows, delta);
        return { admitted: true, current };
      }),
    adjust: (keyId, windows, delta) =>
      inTransaction(pool, async (client) => {
        await lockKey(client, keyId);
        await addAll(client, keyId, windows, delta);
      }),
    totals: async (keyId, windows) => totalsOf(await rowsOf(pool, keyId, windows)),
    async prune(olderThan) {
      return (await pool.query('DELETE FROM key_usage WHERE start < $1', [olderThan])).rowCount ?? 0;
    },
  };
}
