/** Usage counters in SQLite: an immediate transaction makes read-check-add atomic across processes. */
import type Database from 'better-sqlite3';
import type { UsageCounterStore, UsageWindows } from '../store.js';
import { exceededCap, rowDeltas, totalsOf, WINDOW_KINDS, type CounterRow } from '../usage-counters.js';

export function sqliteUsageCounters(db: Database.Database): UsageCounterStore {
  const read = db.prepare<[string, number, number, number], CounterRow>(
    'SELECT kind, requests, tokens, spent, reserved FROM key_usage WHERE key_id = ? AND ' +
      "((kind = 'minute' AND start = ?) OR (kind = 'day' AND start = ?) OR (kind = 'month' AND start = ?))",
  );
  const seed = db.prepare(
    'INSERT INTO key_usage (key_id, kind, start, requests, tokens, spent, reserved) ' +
      'SELECT @key, @kind, @start, 0, 0, ' +
      "CASE WHEN @kind = 'minute' THEN 0 ELSE COALESCE(SUM(cost_usd), 0) END, 0 " +
      'FROM request_logs WHERE key_id = @key AND created_at >= @start ON CONFLICT DO NOTHING',
  );
  const add = db.prepare(
    'UPDATE key_usage SET requests = requests + ?, tokens = MAX(0, tokens + ?), spent = spent + ?, ' +
      'reserved = MAX(0, reserved + ?) WHERE key_id = ? AND kind = ? AND start = ?',
  );
  const rowsOf = (keyId: string, w: UsageWindows) => read.all(keyId, w.minute, w.day, w.month);

  const admit = db.transaction((...[keyId, windows, delta, caps]: Parameters<UsageCounterStore['admit']>) => {
    let rows = rowsOf(keyId, windows);
    if (rows.length < WINDOW_KINDS.length) {
      for (const kind of WINDOW_KINDS) seed.run({ key: keyId, kind, start: windows[kind] });
      rows = rowsOf(keyId, windows);
    }
    const current = totalsOf(rows);
    if (exceededCap(current, delta, caps)) return { admitted: false, current };
    for (const [kind, start, ...values] of rowDeltas(windows, delta)) add.run(...values, keyId, kind, start);
    return { admitted: true, current };
  });

  return {
    async admit(keyId, windows, delta, caps) {
      return admit.immediate(keyId, windows, delta, caps);
    },
    async adjust(keyId, windows, delta) {
      db.transaction(() => {
        for (const [kind, start, ...values] of rowDeltas(windows, delta)) add.run(...values, keyId, kind, start);
      }).immediate();
    },
    async totals(keyId, windows) {
      return totalsOf(rowsOf(keyId, windows));
    },
    async prune(olderThan) {
      return db.prepare('DELETE FROM key_usage WHERE start < ?').run(olderThan).changes;
    },
  };
}
