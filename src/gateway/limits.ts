/**
 * Per-key limits: requests and tokens per minute (fixed windows on the clock minute, so `retry-after`
 * is exact), and spend per UTC day and month (from the request logs at first use, then counted in
 * memory). Exceeding a rate is 429 `rate_limit_exceeded` with the exact `retry-after(-ms)`; what
 * waiting cannot fix is final: a spent budget is 402 `insufficient_quota`, a request larger than the
 * whole tpm is 400 `tokens_exceed_rate_limit`, both with `x-should-retry: false`. Counters live in each
 * gateway process: replicas behind a load balancer each enforce the whole limit.
 *
 * Budgets are exact under concurrency: a call reserves its estimated cost (its cl100k tokens at the
 * entity's price) at admission, and settles to the actual cost when it ends. A call is admitted
 * while spent + reserved is under the budget, so parallel calls overrun it by at most one call.
 */
import type { ApiKeyRecord, KeyLimits } from '../core/api-key.js';
import { ApiError } from '../core/errors.js';
import type { RequestLogStore } from '../store/store.js';

interface KeyState {
  minute: number;
  requests: number;
  tokens: number;
  day: number;
  daySpent: number;
  /** Estimated cost of admitted calls not yet settled. */
  dayReserved: number;
  month: number;
  monthSpent: number;
  monthReserved: number;
}

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
  /** USD reserved against the budgets, and the day and month it was reserved in. */
  reservedCost: number;
  day: number;
  month: number;
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

export class KeyLimiter {
  private readonly states = new Map<string, Promise<KeyState>>();

  /** `beforeLoad` flushes buffered log rows, so that spend loaded from the store is complete. */
  constructor(
    private readonly logs: RequestLogStore,
    private readonly beforeLoad: () => Promise<void>,
  ) {}

  private async state(keyId: string, now: number): Promise<KeyState> {
    let loading = this.states.get(keyId);
    if (!loading) {
      loading = (async () => {
        await this.beforeLoad();
        const spent = async (since: number) => (await this.logs.usage({ key: [keyId], since }, []))[0]?.cost_usd ?? 0;
        const [daySpent, monthSpent] = await Promise.all([spent(dayStart(now)), spent(monthStart(now))]);
        return {
          minute: Math.floor(now / MINUTE),
          requests: 0,
          tokens: 0,
          day: dayStart(now),
          daySpent,
          dayReserved: 0,
          month: monthStart(now),
          monthSpent,
          monthReserved: 0,
        };
      })();
      this.states.set(keyId, loading);
    }
    const state = await loading;
    // Roll the windows forward.
    const minute = Math.floor(now / MINUTE);
    if (state.minute !== minute) Object.assign(state, { minute, requests: 0, tokens: 0 });
    if (state.day !== dayStart(now)) Object.assign(state, { day: dayStart(now), daySpent: 0, dayReserved: 0 });
    if (state.month !== monthStart(now))
      Object.assign(state, { month: monthStart(now), monthSpent: 0, monthReserved: 0 });
    return state;
  }

  private headers(limits: KeyLimits, state: KeyState, now: number): Record<string, string> {
    const reset = `${seconds((state.minute + 1) * MINUTE - now)}s`;
    const headers: Record<string, string> = {};
    if (limits.rpm !== undefined) {
      headers['x-ratelimit-limit-requests'] = String(limits.rpm);
      headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.rpm - state.requests));
      headers['x-ratelimit-reset-requests'] = reset;
    }
    if (limits.tpm !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(limits.tpm);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tpm - state.tokens));
      headers['x-ratelimit-reset-tokens'] = reset;
    }
    return headers;
  }

  /**
   * Admits the call or throws the 429 that says which limit, and when to come back. Everything
   * after the last await runs without yielding, so concurrent admissions never both take the same
   * last unit of a limit.
   */
  async admit(key: ApiKeyRecord, estimate: CallEstimate, at?: number): Promise<Admission> {
    const limits = key.limits;
    if (!limits) return { headers: {}, reserved: 0, reservedCost: 0, day: 0, month: 0 };
    const budgeted = limits.budget_usd_day !== undefined || limits.budget_usd_month !== undefined;
    const tokens = limits.tpm !== undefined || budgeted ? await estimate.tokens() : 0;
    const now = at ?? Date.now();
    const state = await this.state(key.id, now);
    const untilMinute = (state.minute + 1) * MINUTE - now;
    // Waiting helps a rate (429 with the exact wait); it cannot help a spent budget or a request
    // larger than the whole per-minute limit, which get statuses clients do not retry (402, 400).
    const wait = (message: string, waitMs: number) => {
      throw new ApiError('rate_limited', message, {
        code: 'rate_limit_exceeded',
        headers: {
          ...this.headers(limits, state, now),
          'retry-after': String(seconds(waitMs)),
          'retry-after-ms': String(Math.ceil(waitMs)),
        },
      });
    };
    const refuse = (kind: 'quota_exhausted' | 'invalid_request', message: string, code: string, resetsInMs: number) => {
      throw new ApiError(kind, message, {
        code,
        param: kind === 'invalid_request' ? 'input' : null,
        headers: {
          ...this.headers(limits, state, now),
          'x-should-retry': 'false',
          'x-ratelimit-reset-budget': `${seconds(resetsInMs)}s`,
        },
      });
    };
    const today = state.daySpent + state.dayReserved;
    if (limits.budget_usd_day !== undefined && today >= limits.budget_usd_day) {
      refuse(
        'quota_exhausted',
        `The API key '${key.name}' has spent its daily budget of $${limits.budget_usd_day} ($${today.toFixed(6)} ` +
          `today, calls in flight included); it resets at 00:00 UTC.`,
        'insufficient_quota',
        state.day + 86_400_000 - now,
      );
    }
    const thisMonth = state.monthSpent + state.monthReserved;
    if (limits.budget_usd_month !== undefined && thisMonth >= limits.budget_usd_month) {
      refuse(
        'quota_exhausted',
        `The API key '${key.name}' has spent its monthly budget of $${limits.budget_usd_month} ` +
          `($${thisMonth.toFixed(6)} this month, calls in flight included); it resets on the 1st, 00:00 UTC.`,
        'insufficient_quota',
        nextMonth(now) - now,
      );
    }
    if (limits.rpm !== undefined && state.requests >= limits.rpm) {
      wait(
        `Rate limit reached for API key '${key.name}': ${limits.rpm} requests per minute. Retry after ` +
          `${seconds(untilMinute)} s.`,
        untilMinute,
      );
    }
    let reserved = 0;
    if (limits.tpm !== undefined) {
      reserved = tokens;
      if (reserved > limits.tpm) {
        refuse(
          'invalid_request',
          `This request has ${reserved} tokens, more than the ${limits.tpm} tokens per minute of API key ` +
            `'${key.name}': it can never be admitted; send smaller requests.`,
          'tokens_exceed_rate_limit',
          untilMinute,
        );
      }
      if (state.tokens + reserved > limits.tpm) {
        wait(
          `Rate limit reached for API key '${key.name}': ${limits.tpm} tokens per minute (${state.tokens} used, ` +
            `this request needs ${reserved}). Retry after ${seconds(untilMinute)} s.`,
          untilMinute,
        );
      }
      state.tokens += reserved;
    }
    state.requests += 1;
    const reservedCost = budgeted ? (tokens * estimate.pricePerMillion) / 1_000_000 : 0;
    state.dayReserved += reservedCost;
    state.monthReserved += reservedCost;
    return { headers: this.headers(limits, state, now), reserved, reservedCost, day: state.day, month: state.month };
  }

  /** After the call: the tokens it really used replace the reservation; its cost counts toward the budgets. */
  async settle(
    key: ApiKeyRecord,
    admission: Admission,
    usedTokens: number,
    cost: number,
    now = Date.now(),
  ): Promise<void> {
    if (!key.limits) return;
    const state = await this.state(key.id, now);
    if (key.limits.tpm !== undefined) state.tokens = Math.max(0, state.tokens - admission.reserved + usedTokens);
    // A reservation made before the window rolled over was cleared with it.
    if (state.day === admission.day) state.dayReserved = Math.max(0, state.dayReserved - admission.reservedCost);
    if (state.month === admission.month)
      state.monthReserved = Math.max(0, state.monthReserved - admission.reservedCost);
    state.daySpent += cost;
    state.monthSpent += cost;
  }

  async usage(keyId: string, now = Date.now()): Promise<KeyUsage> {
    const state = await this.state(keyId, now);
    return {
      requests_this_minute: state.requests,
      tokens_this_minute: state.tokens,
      spent_today_usd: state.daySpent,
      spent_this_month_usd: state.monthSpent,
    };
  }
}
