/**
 * Calls one provider over HTTP for one part of a request: keep-alive pools per origin (undici),
 * the entity's timeout as a hard deadline for all attempts, bounded retries with exponential
 * backoff and jitter on connection errors, 408, 429 and 5xx, honouring `retry-after-ms` and
 * `retry-after`. Failures come back as OpenAI-shaped errors with an honest status, and never carry
 * the upstream's raw body, a stack or a credential.
 */
import { EventEmitter } from 'node:events';
import { Agent, type Dispatcher } from 'undici';
import type { BodyHold } from './body-budget.js';
import { ApiError } from '../core/errors.js';
import { backoffMs, RETRIABLE_STATUS, retryAfterMs, sleep } from '../core/retry.js';
import type { EmbeddingModelEntity } from '../core/entity.js';
import { STRING_LIMITS } from '../core/limits.js';
import { parseUpstreamJson } from './upstream-json.js';
import { exchange, type UpstreamAnswer } from './upstream-exchange.js';
import { UpstreamShapeError, type EmbedCall, type EmbedResult, type HttpAdapter } from './providers/types.js';
import { CredentialError, type CredentialSource, type OutgoingRequest } from './credentials/types.js';

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Errors of configuration, not of the moment: `x-should-retry: false` tells clients (and embctl) not to wait for them. */
export const FINAL = { 'x-should-retry': 'false' } as const;

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 250, maxDelayMs: 4000 };

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

export function createUpstreamPool(): Agent {
  return new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connections: 256 });
}

/**
 * One attempt's deadline: aborts after `ms`, or when `parent` aborts. An EventEmitter with `aborted`
 * and `reason`, not an AbortController (~2 µs to make and more to listen to, on every call).
 * `release()` frees the timer as soon as the attempt is over (`AbortSignal.timeout` cannot be
 * cleared: under load it kept one live timer per request for the whole entity timeout, all promoted
 * to the old generation).
 */
class AttemptDeadline extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly onParentAbort = () => this.abort(this.parent!.reason);

  constructor(
    ms: number,
    private readonly parent: AbortSignal | undefined,
  ) {
    super();
    this.timer = setTimeout(() => this.abort(new DOMException('The upstream deadline passed', 'TimeoutError')), ms);
    parent?.addEventListener('abort', this.onParentAbort, { once: true });
  }

  private abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort', reason);
  }

  /** The same deadline as an AbortSignal, for waits that take one (the body budget's); made when asked. */
  asSignal(): AbortSignal {
    if (this.aborted) return AbortSignal.abort(this.reason);
    const controller = new AbortController();
    this.once('abort', (reason) => controller.abort(reason));
    return controller.signal;
  }

  release(): void {
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParentAbort);
  }
}

const backoff = (attempt: number, policy: RetryPolicy) => backoffMs(attempt, policy.baseDelayMs, policy.maxDelayMs);

/** Key-shaped strings: `sk-…`-style prefixes, or long unbroken runs of token characters. */
const KEY_LIKE = /\b(?:sk|rk|pk|key|tok)[-_][A-Za-z0-9_-]{8,}|[A-Za-z0-9_-]{32,}/g;

/**
 * An upstream's text (an error message, the model it names) may echo a credential, ours or
 * another: none reaches the caller. Scrubbed whole, then cut, so no secret straddles the cut.
 */
export function scrubUpstreamText(text: string, secrets: readonly string[], max: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed.
  let clean = text.replace(/[\u0000-\u001f\u007f]/g, ' ');
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) clean = clean.split(secret).join('[redacted]');
  clean = clean.replace(KEY_LIKE, '[redacted]');
  return clean.length <= max ? clean : `${clean.slice(0, max)}…`;
}

const MAX_UPSTREAM_MESSAGE = 500;

/** Error bodies are read up to this; what they say beyond it is not worth the memory. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * The largest 2xx body a call may get: its vectors printed as floats (at most ~26 bytes a value),
 * with room for the envelope. Anything larger is not an answer to this call.
 */
export function maxResponseBytes(call: EmbedCall): number {
  const dimensions = call.dimensions ?? call.entity.dimensions ?? DIMENSIONS_IF_UNKNOWN;
  return 256 * 1024 + call.inputs.length * (dimensions * 26 + 512);
}
const DIMENSIONS_IF_UNKNOWN = 8192;

class BodyTooLarge extends Error {}

/** A 2xx answer not read (or not to its end) because its caller had left; the upstream still bills it. */
export class UnreadAnswer extends Error {
  constructor() {
    super('The upstream answered, but its caller had left, so the answer was not read.');
  }
}

function describeUpstream(entity: EmbeddingModelEntity): string {
  return `the ${entity.provider} upstream of '${entity.id}'`;
}

export function upstreamStatusError(
  entity: EmbeddingModelEntity,
  status: number,
  message: string | undefined,
  headers: Record<string, string | string[] | undefined>,
): ApiError {
  const who = describeUpstream(entity);
  const detail = message ? `: ${message}` : '';
  if (status === 401 || status === 403) {
    return new ApiError(
      'upstream',
      `${who} refused the gateway's credentials (HTTP ${status}${detail}). Your API key was accepted; an operator ` +
        `must fix the entity's token.`,
      { code: 'upstream_auth_failed', headers: FINAL },
    );
  }
  if (status === 429) {
    const wait = retryAfterMs(headers);
    const quota = /quota|billing|insufficient/i.test(message ?? '');
    return new ApiError(
      'rate_limited',
      `${who} is rate limiting the gateway (HTTP ` +
        `429${detail}).${wait !== undefined ? ` Retry after ${Math.ceil(wait / 1000)} s.` : ''}`,
      {
        code: quota ? 'insufficient_quota' : 'rate_limit_exceeded',
        headers: wait !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) } : {},
      },
    );
  }
  if (status === 413)
    return new ApiError(
      'payload_too_large',
      `${who} refused the request as too large (HTTP 413${detail}). Send fewer or shorter inputs.`,
      { code: 'upstream_request_too_large' },
    );
  if (status === 404) {
    return new ApiError('upstream', `${who} answered 404${detail}. Check the entity's base_url and model name.`, {
      code: 'upstream_not_found',
      headers: FINAL,
    });
  }
  if (status >= 400 && status < 500)
    return new ApiError('invalid_request', `${who} rejected the request (HTTP ${status})${detail}`, {
      code: 'upstream_invalid_request',
    });
  if (status === 503)
    return new ApiError('unavailable', `${who} is unavailable (HTTP 503${detail}) after retries.`, {
      code: 'upstream_unavailable',
    });
  return new ApiError('upstream', `${who} failed (HTTP ${status}${detail}) after retries.`, { code: 'upstream_error' });
}

/** A credential that cannot be used as configured: the entity and the reason, never a value. */
export function credentialFailure(entity: EmbeddingModelEntity, error: CredentialError): ApiError {
  return new ApiError(
    'unavailable',
    `The embedding model '${entity.id}' cannot authenticate to its provider: ${error.message}.`,
    { code: 'provider_misconfigured', ...(error.final ? { headers: FINAL } : {}) },
  );
}

export interface UpstreamDeps {
  pool: Dispatcher;
  retry: RetryPolicy;
}

/**
 * One part, with retries, within the deadline. `signal`, when given, aborts it because a sibling
 * part failed. With `hold`, a 2xx answer's body is read once the call's share of the body budget
 * is taken (until then the upstream's socket holds the bytes).
 */
export async function callUpstream(
  adapter: HttpAdapter,
  call: EmbedCall,
  credential: CredentialSource,
  deps: UpstreamDeps,
  deadline: number,
  signal?: AbortSignal,
  hold?: BodyHold,
): Promise<EmbedResult> {
  const { entity } = call;
  const baseUrl = adapter.baseUrl(entity.config.connection);
  if (!baseUrl) {
    throw new ApiError(
      'unavailable',
      `The embedding model '${entity.id}' has no base_url, which provider '${entity.provider}' needs.`,
      { code: 'provider_misconfigured', headers: FINAL },
    );
  }
  const built = adapter.buildRequest(call, baseUrl);
  const maxBody = maxResponseBytes(call);
  const unsigned: OutgoingRequest = {
    method: 'POST',
    url: built.url,
    headers: { 'content-type': 'application/json', accept: 'application/json', ...built.headers },
    body: JSON.stringify(built.body),
  };
  const failed = (error: unknown): never => {
    throw error instanceof CredentialError ? credentialFailure(entity, error) : error;
  };
  // A static key is added in place; only minting or signing needs a promise.
  const authorize = (): OutgoingRequest | Promise<OutgoingRequest> => {
    try {
      const result = credential.authorize(unsigned, signal);
      return result instanceof Promise ? result.catch(failed) : result;
    } catch (error) {
      return failed(error);
    }
  };
  let outgoing = authorize();
  if (outgoing instanceof Promise) outgoing = await outgoing;
  let refreshed = false;
  const timedOut = () =>
    new ApiError(
      'timeout',
      `${describeUpstream(entity)} did not answer within its timeout of ${entity.config.connection.timeout} ms.`,
      { code: 'upstream_timeout' },
    );

  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timedOut();
    let response: UpstreamAnswer | undefined;
    const chunks: Buffer[] = [];
    // The call's share of the body budget, when this attempt's answer is one it holds.
    let held: BodyHold | undefined;
    let unwatch: (() => void) | undefined;
    const attemptDeadline = new AttemptDeadline(remaining, signal);
    try {
      response = await exchange(deps.pool, outgoing, { timeout: remaining, abortOn: attemptDeadline });
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      const limit = ok ? maxBody : MAX_ERROR_BODY;
      held = ok ? hold : undefined;
      if (held) {
        await held.take(attemptDeadline.asSignal());
        unwatch = held.watch(response);
      }
      // An error body is read up to its limit; an answer larger than any this call can take, not at all.
      const whole = await response.read(limit, held?.collector(chunks) ?? ((chunk) => chunks.push(chunk)));
      if (!whole && ok) throw new BodyTooLarge();
    } catch (error) {
      // An answer left unread (its caller left while it waited for the budget, or it was too large) would
      // keep its upstream connection busy, and the gateway's stop waiting for it, for ever.
      response?.discard();
      if (signal?.aborted) throw signal.reason as Error;
      // The caller's response is over: nobody to retry for.
      if (hold?.ended) throw held ? new UnreadAnswer() : error;
      // Not retried: the same call would get the same answer.
      if (error instanceof BodyTooLarge) {
        throw new ApiError(
          'upstream',
          `${describeUpstream(entity)} sent a response larger than ${maxBody} bytes, more than ` +
            `${call.inputs.length} vector(s) can take; it was not read.`,
          {
            code: 'upstream_response_too_large',
          },
        );
      }
      const code = (error as { code?: string; name?: string }).code ?? (error as Error).name;
      if (attemptDeadline.aborted || TIMEOUT_CODES.has(code) || deadline - Date.now() <= 0) throw timedOut();
      const wait = backoff(attempt, deps.retry);
      if (attempt < deps.retry.maxRetries && Date.now() + wait < deadline) {
        await sleep(wait, signal);
        if (signal?.aborted) throw signal.reason as Error;
        continue;
      }
      throw new ApiError(
        'upstream',
        `${describeUpstream(entity)} could not be reached (${code || 'connection failed'}) after ${attempt + 1} ` +
          `attempt(s).`,
        { code: 'upstream_unreachable' },
      );
    } finally {
      attemptDeadline.release();
      unwatch?.();
    }

    const status = response.statusCode;
    const parsed = parseUpstreamJson(chunks, call.vectorLength, held?.spill.bind(held));
    if (status >= 200 && status < 300) {
      if (parsed === undefined)
        throw new ApiError('upstream', `${describeUpstream(entity)} answered ${status} with a body that is not JSON.`, {
          code: 'upstream_bad_response',
        });
      try {
        const result = adapter.parseResponse(parsed, response.headers, call);
        // The served model goes into the caller's answer, the log and metrics: never a secret, never unbounded.
        if (result.model !== call.model)
          result.model = scrubUpstreamText(result.model, credential.secrets(), STRING_LIMITS.model);
        return result;
      } catch (error) {
        if (error instanceof UpstreamShapeError) {
          throw new ApiError(
            'upstream',
            `${describeUpstream(entity)} answered ${status} in an unexpected shape: ${error.message}.`,
            { code: 'upstream_bad_response' },
          );
        }
        throw error;
      }
    }
    // A minted token the upstream no longer takes (revoked, clock skew): mint once more and try again.
    if ((status === 401 || status === 403) && credential.invalidate && !refreshed) {
      refreshed = true;
      credential.invalidate();
      outgoing = await authorize();
      continue;
    }
    const advised = retryAfterMs(response.headers);
    const wait = advised ?? backoff(attempt, deps.retry);
    const shouldRetry = RETRIABLE_STATUS.has(status) && response.headers['x-should-retry'] !== 'false';
    if (shouldRetry && attempt < deps.retry.maxRetries && Date.now() + wait < deadline) {
      await sleep(wait, signal);
      if (signal?.aborted) throw signal.reason as Error;
      continue;
    }
    const message = parsed === undefined ? undefined : adapter.errorMessage(parsed);
    throw upstreamStatusError(
      entity,
      status,
      message === undefined ? undefined : scrubUpstreamText(message, credential.secrets(), MAX_UPSTREAM_MESSAGE),
      response.headers,
    );
  }
}
