/**
 * What both engines share of the usage counters: one row per (key, window kind, window start) in
 * `key_usage`; minute rows count requests and tokens, day and month rows count spend and what is
 * reserved by calls in flight. A day or month row is created from the spend already in the
 * request logs, so counters started mid-window (a new store version, a key given a budget) agree
 * with `embctl usage`.
 */
import type { UsageCaps, UsageDelta, UsageWindows, WindowTotals } from './store.js';

export type WindowKind = 'minute' | 'day' | 'month';
/** In lock order (see rowDeltas). */
export const WINDOW_KINDS: readonly WindowKind[] = ['day', 'minute', 'month'];

export interface CounterRow {
  kind: WindowKind;
  requests: number;
  tokens: number;
  spent: number;
  reserved: number;
}

const ZERO_TOTALS: WindowTotals = {
  requests: 0,
  tokens: 0,
  daySpent: 0,
  dayReserved: 0,
  monthSpent: 0,
  monthReserved: 0,
};

export function totalsOf(rows: CounterRow[]): WindowTotals {
  const totals = { ...ZERO_TOTALS };
  for (const row of rows) {
    if (row.kind === 'minute') Object.assign(totals, { requests: row.requests, tokens: row.tokens });
    else if (row.kind === 'day') Object.assign(totals, { daySpent: row.spent, dayReserved: row.reserved });
    else Object.assign(totals, { monthSpent: row.spent, monthReserved: row.reserved });
  }
  return totals;
}

/** The per-row additions of a delta: [kind, start, requests, tokens, spent, reserved], zero rows left out. */
export function rowDeltas(
  windows: UsageWindows,
  d: UsageDelta,
): [WindowKind, number, number, number, number, number][] {
  const rows: [WindowKind, number, number, number, number, number][] = [
    ['minute', windows.minute, d.requests ?? 0, d.tokens ?? 0, 0, 0],
    ['day', windows.day, 0, 0, d.daySpent ?? 0, d.dayReserved ?? 0],
    ['month', windows.month, 0, 0, d.monthSpent ?? 0, d.monthReserved ?? 0],
  ];
  return rows.filter(([, , ...values]) => values.some((v) => v !== 0));
}

/**
 * The first cap a call adding `delta` does not fit, given the totals so far (budgets first: waiting
 * cannot fix those); undefined when it fits. PostgreSQL's `embctl_usage_admit` (migration 4)
 * applies the same rule in SQL; the contract suite runs both.
 */
export function exceededCap(current: WindowTotals, delta: UsageDelta, caps: UsageCaps): keyof UsageCaps | undefined {
  if (caps.dayBudget !== undefined && current.daySpent + current.dayReserved >= caps.dayBudget) return 'dayBudget';
  if (caps.monthBudget !== undefined && current.monthSpent + current.monthReserved >= caps.monthBudget)
    return 'monthBudget';
  if (caps.requests !== undefined && current.requests >= caps.requests) return 'requests';
  if (caps.tokens !== undefined && current.tokens + (delta.tokens ?? 0) > caps.tokens) return 'tokens';
  return undefined;
}
