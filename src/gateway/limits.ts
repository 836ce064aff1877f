/**
 * Per-key limits: requests and tokens per minute (fixed windows on the clock minute, so `retry-after`
 * is exact), and spend per UTC day and month. Exceeding a rate is 429 `rate_limit_exceeded` with the
 * exact `retry-after(-ms)`; what waiting cannot fix is final: a spent budget is 402
 * `insufficient_quota`, a request larger than the whole tpm is 400 `tokens_exceed_rate_limit`, both
 * with `x-should-retry: false`.
 *
 * The counters live in the store (`UsageCounterStore`), read and added in one locked transaction,
 * so every gateway sharing the store together admits at most the key's limits. A call reserves its
 * estimated tokens and cost (cl100k tokens at the entity's price) at admission and settles to the
 * actual when it ends: parallel calls overrun a budget by at most the calls already in flight.
 * Keys without limits never touch the counters.
 */
import type { ApiKeyRecord, KeyLimits } from '../core/api-key.js';
import { ApiError } from '../core/errors.js';
import type { UsageCaps, UsageCounterStore, UsageWindows, WindowTotals } from '../store/store.js';
import { exceededCap } from '../store/usage-counters.js';

/** When the store cannot be reached: refuse limited keys (503, retried by clients) or admit them uncounted. */
export type OutagePolicy = 'closed' | 'open';

const MINUTE = 60_000;
const dayStart = (now: number) => Math.floor(now / 86_400_000) * 86_400_000;
const monthStart = (now: number) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const nextMonth = (now: number) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export interface Admission {
  /** Headers for the response, success or failure. */
  headers: Record<string, string>;
  /** Tokens reserved at admission, corrected when the call reports its usage. */
  reserved: number;
  /** USD reserved against the budgets. */
  reservedCost: number;
  /** The windows it was counted in; undefined when nothing was counted (no limits, or the store was down). */
  windows: UsageWindows | undefined;
}

/** What a call will cost, asked only of keys with limits that need it. */
export interface CallEstimate {
  tokens: () => Promise<number>;
  pricePerMillion: number;
}

export interface KeyUsage {
  requests_this_minute: number;
  tokens_this_minute: number;
  spent_today_usd: number;
  spent_this_month_usd: number;
}

const capsOf = (limits: KeyLimits): UsageCaps => ({
  requests: limits.rpm,
  tokens: limits.tpm,
  dayBudget: limits.budget_usd_day,
  monthBudget: limits.budget_usd_month,
});

const shareOf = (limits: KeyLimits, share: number): KeyLimits => ({
  ...limits,
  ...(limits.rpm !== undefined ? { rpm: Math.max(1, Math.floor(limits.rpm * share)) } : {}),
  ...(limits.tpm !== undefined ? { tpm: Math.max(1, Math.floor(limits.tpm * share)) } : {}),
});

const windowsAt = (now: number): UsageWindows => ({
  minute: Math.floor(now / MINUTE) * MINUTE,
  day: dayStart(now),
  month: monthStart(now),
});

export class KeyLimiter {
  /** Keys whose spend this process flushed its log buffer for today: a cache of "already done", reset daily. */
  private flushedFor = { day: 0, keys: new Set<string>() };

  /** `beforeFirstUse` flushes buffered log rows, so that spend read from the logs is complete. */
  constructor(
    private readonly counters: UsageCounterStore,
    private readonly beforeFirstUse: () => Promise<void>,
    private readonly onOutage: OutagePolicy = 'closed',
    private readonly onError: (message: string) => void = () => {},
  ) {}

  private headers(limits: KeyLimits, totals: WindowTotals, windows: UsageWindows, now: number): Record<string, string> {
    const reset = `${seconds(windows.minute + MINUTE - now)}s`;
    const headers: Record<string, string> = {};
    if (limits.rpm !== undefined) {
      headers['x-ratelimit-limit-requests'] = String(limits.rpm);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.rpm - totals.requests));
      headers['x-ratelimit-reset-requests'] = reset;
    }
    if (limits.tpm !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(limits.tpm);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tpm - totals.tokens));
      headers['x-ratelimit-reset-tokens'] = reset;
    }
    return headers;
  }

  private async flushOnce(keyId: string, day: number): Promise<void> {
    if (this.flushedFor.day !== day) this.flushedFor = { day, keys: new Set() };
    if (this.flushedFor.keys.has(keyId)) return;
    await this.beforeFirstUse();
    this.flushedFor.keys.add(keyId);
  }

  /**
   * Admits the call or throws the refusal that says which limit, and when to come back. A call
   * with `rateShare` < 1 (a batch job's) is admitted only within that share of the key's rpm and
   * tpm, counted in the same windows: the rest of each minute stays open to live calls.
   */
  async admit(key: ApiKeyRecord, estimate: CallEstimate, rateShare = 1): Promise<Admission> {
    if (!key.limits) return { headers: {}, reserved: 0, reservedCost: 0, windows: undefined };
    const limits = rateShare < 1 ? shareOf(key.limits, rateShare) : key.limits;
    const budgeted = limits.budget_usd_day !== undefined || limits.budget_usd_month !== undefined;
    const tokens = limits.tpm !== undefined || budgeted ? await estimate.tokens() : 0;
    const now = Date.now();
    const windows = windowsAt(now);
    const untilMinute = windows.minute + MINUTE - now;
    const reservedCost = budgeted ? (tokens * estimate.pricePerMillion) / 1_000_000 : 0;
    const reserved = limits.tpm !== undefined ? tokens : 0;
    if (limits.tpm !== undefined && reserved > limits.tpm) {
      // Waiting cannot help either: a final status clients do not retry (400).
      throw new ApiError(
        'invalid_request',
        `This request has ${reserved} tokens, more than the ${limits.tpm} tokens per minute of API key ` +
          `'${key.name}': it can never be admitted; send smaller requests.`,
        {
          code: 'tokens_exceed_rate_limit',
          param: 'input',
          headers: { 'x-should-retry': 'false', 'x-ratelimit-reset-budget': `${seconds(untilMinute)}s` },
        },
      );
    }
    if (budgeted) await this.flushOnce(key.id, windows.day);

    const delta = { requests: 1, tokens: reserved, dayReserved: reservedCost, monthReserved: reservedCost };
    const caps = capsOf(limits);
    let outcome: { admitted: boolean; current: WindowTotals };
    try {
      outcome = await this.counters.admit(key.id, windows, delta, caps);
    } catch (error) {
      if (this.onOutage === 'open') return { headers: {}, reserved: 0, reservedCost: 0, windows: undefined };
      throw new ApiError(
        'unavailable',
        `The limits of API key '${key.name}' cannot be checked: the gateway's store is unreachable ` +
          `(${(error as Error).message.slice(0, 200)}). Retry shortly.`,
        { code: 'store_unavailable', headers: { 'retry-after': '1', 'retry-after-ms': '1000' } },
      );
    }
    if (!outcome.admitted) {
      throw (
        this.refusal(key, limits, exceededCap(outcome.current, delta, caps), outcome.current, reserved, windows, now) ??
        new ApiError('rate_limited', `The limits of API key '${key.name}' refused this call. Retry shortly.`, {
          code: 'rate_limit_exceeded',
          headers: { 'retry-after': '1', 'retry-after-ms': '1000' },
        })
      );
    }
    const after = {
      ...outcome.current,
      requests: outcome.current.requests + 1,
      tokens: outcome.current.tokens + reserved,
    };
    return { headers: this.headers(limits, after, windows, now), reserved, reservedCost, windows };
  }

  /** The refusal that says which limit a call did not fit, and when to come back; undefined for none. */
  private refusal(
    key: ApiKeyRecord,
    limits: KeyLimits,
    exceeded: keyof UsageCaps | undefined,
    current: WindowTotals,
    reserved: number,
    windows: UsageWindows,
    now: number,
  ): ApiError | undefined {
    const untilMinute = windows.minute + MINUTE - now;
    const headers = this.headers(limits, current, windows, now);
    // Waiting cannot help a spent budget: final statuses clients do not retry (402).
    const spent = (message: string, resetsInMs: number) =>
      new ApiError('quota_exhausted', message, {
        code: 'insufficient_quota',
        headers: { ...headers, 'x-should-retry': 'false', 'x-ratelimit-reset-budget': `${seconds(resetsInMs)}s` },
      });
    const today = current.daySpent + current.dayReserved;
    if (exceeded === 'dayBudget')
      return spent(
        `The API key '${key.name}' has spent its daily budget of $${limits.budget_usd_day} ($${today.toFixed(6)} ` +
          'today, calls in flight included); it resets at 00:00 UTC.',
        windows.day + 86_400_000 - now,
      );
    const thisMonth = current.monthSpent + current.monthReserved;
    if (exceeded === 'monthBudget')
      return spent(
        `The API key '${key.name}' has spent its monthly budget of $${limits.budget_usd_month} ` +
          `($${thisMonth.toFixed(6)} this month, calls in flight included); it resets on the 1st, 00:00 UTC.`,
        nextMonth(now) - now,
      );
    // Waiting helps a rate: 429 with the exact wait.
    const wait = (message: string) =>
      new ApiError('rate_limited', message, {
        code: 'rate_limit_exceeded',
        headers: {
          ...headers,
          'retry-after': String(seconds(untilMinute)),
          'retry-after-ms': String(Math.ceil(untilMinute)),
        },
      });
    if (exceeded === 'requests')
      return wait(
        `Rate limit reached for API key '${key.name}': ${limits.rpm} requests per minute. Retry after ` +
          `${seconds(untilMinute)} s.`,
      );
    if (exceeded === 'tokens')
      return wait(
        `Rate limit reached for API key '${key.name}': ${limits.tpm} tokens per minute (${current.tokens} used, ` +
          `this request needs ${reserved}). Retry after ${seconds(untilMinute)} s.`,
      );
    return undefined;
  }

  /** After the call: the tokens it really used replace the reservation; its cost counts toward the budgets. */
  async settle(key: ApiKeyRecord, admission: Admission, usedTokens: number, cost: number): Promise<void> {
    if (!key.limits || !admission.windows) return;
    // Counted in the windows the call was admitted in, even if the clock moved on since.
    const delta = {
      tokens: key.limits.tpm !== undefined ? usedTokens - admission.reserved : 0,
      dayReserved: -admission.reservedCost,
      monthReserved: -admission.reservedCost,
      daySpent: cost,
      monthSpent: cost,
    };
    try {
      await this.counters.adjust(key.id, admission.windows, delta);
    } catch (error) {
      // The call was answered: its answer stands. The counters keep the reservation (a budget errs
      // on the safe side) and the Request Log row still records the cost.
      this.onError(`usage of key '${key.name}' not settled: ${(error as Error).message}`);
    }
  }

  async usage(keyId: string, now = Date.now()): Promise<KeyUsage> {
    const totals = await this.counters.totals(keyId, windowsAt(now));
    return {
      requests_this_minute: totals.requests,
      tokens_this_minute: totals.tokens,
      spent_today_usd: totals.daySpent,
      spent_this_month_usd: totals.monthSpent,
    };
  }
}
