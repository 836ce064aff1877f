/**
 * One embeddings call for a known key, whoever asks: the `/v1/embeddings` route and the batch
 * runner alike. Validation, token bounds, routing under the key's constraints, the cache, the
 * key's limits and budgets, dispatch, cost; and the one Request Log row the call leaves.
 */
import type { KnownKey } from './catalogue.js';
import { parseEmbeddingsRequest, type EmbeddingsRequest } from '../core/embeddings-request.js';
import { costOf, entityPrice } from '../core/prices.js';
import { sameModel, type RequestLogRow } from '../core/request-log.js';
import type { CacheDirective } from '../core/cache-key.js';
import type { BodyHold } from './body-budget.js';
import { expectedUpstreamBytes } from './body-budget.js';
import { planCall, uncached, type CachedResult } from './cache-plan.js';
import type { GatewayContext } from './context.js';
import { routeRequest, type Route } from './router.js';
import { UnreadAnswer } from './upstream.js';

/** What a call has learnt by the time it ends, however far it got. */
export interface CallTrace {
  startedAt: number;
  key?: KnownKey;
  request?: EmbeddingsRequest;
  route?: Route;
  result?: CachedResult;
  upstreamMs?: number;
  /** USD spent upstream, once the call succeeded. */
  cost?: number;
  /** USD the cache saved. */
  costSaved?: number;
}

export interface EmbedOptions {
  cacheDirective: CacheDirective;
  /** The call's share of the body budget, for an answer expected to be `bytes` long (undefined: none needed). */
  hold?: (bytes: number) => BodyHold | undefined;
  /** The share of the key's rpm/tpm this call may use (a batch job's leaves the rest to live calls). */
  rateShare?: number;
  /** The limiter's headers (remaining requests, tokens, budget), for a response to carry. */
  onAdmission?: (headers: Record<string, string>) => void;
}

/** Runs the call for `trace.key`; fills the trace as it goes, so a failure still logs what was known. */
export async function embedCall(
  ctx: GatewayContext,
  trace: CallTrace & { key: KnownKey },
  body: unknown,
  options: EmbedOptions,
): Promise<CachedResult> {
  trace.request = parseEmbeddingsRequest(body);
  const request = trace.request;
  await request.checkTokenLimits();
  const snapshot = await ctx.catalogue.current();
  trace.route = routeRequest(snapshot.catalogue, request.model, trace.key.constraints);
  const route = trace.route;
  const price = entityPrice(route.target.entity, route.model) ?? 0;
  const plan = await planCall(
    ctx.cache,
    snapshot.cacheEpoch,
    route,
    trace.key.record.id,
    request,
    options.cacheDirective,
  );
  const toSend = plan.upstream;
  const admission = await ctx.limiter.admit(
    trace.key.record,
    { tokens: async () => (toSend ? toSend.totalTokens() : 0), pricePerMillion: price },
    options.rateShare,
  );
  options.onAdmission?.(admission.headers);
  const started = performance.now();
  let upstreamTokens = 0;
  const expected = toSend ? expectedUpstreamBytes(toSend, route.target.entity) : 0;
  const hold = expected >= ctx.bodyBudget.minBytes ? options.hold?.(expected) : undefined;
  try {
    const sent = toSend && (await ctx.dispatch(route, toSend, hold));
    let result = await plan.complete(sent);
    upstreamTokens = sent?.promptTokens ?? 0;
    if (!result) {
      // The cached vectors came from another model than the upstream serves now: all of it again.
      const again = await ctx.dispatch(route, request, hold);
      upstreamTokens += again.promptTokens;
      result = uncached(again, 'miss; hits=0');
    }
    trace.result = result;
    trace.cost = costOf(upstreamTokens, price);
    trace.costSaved = costOf(result.cache.cachedTokens, price);
    return result;
  } catch (error) {
    if (error instanceof UnreadAnswer) {
      // The upstream did the work and bills it: charged, and logged, at the request's own token count.
      upstreamTokens = await toSend!.totalTokens();
      trace.cost = costOf(upstreamTokens, price);
      trace.result = uncached(
        { vectors: [], model: route.model, promptTokens: upstreamTokens, usageEstimated: true, upstreamMs: 0 },
        'miss; hits=0',
      );
    }
    throw error;
  } finally {
    // The vectors still in the held bytes are the caller's response now: the hold frees them when it is over.
    hold?.callEnded();
    trace.upstreamMs = performance.now() - started;
    await ctx.limiter.settle(trace.key.record, admission, upstreamTokens, trace.cost ?? 0);
  }
}

const MAX_LOGGED_MODEL = 200;

export interface CallOutcome {
  id: string;
  status: number;
  errorCode: string | null;
  latencyMs: number;
  /** The request body as sent, for the model it asked even when it failed validation. */
  body: unknown;
  /** The upstream answered though the caller will not get it (it left, or a batch was cancelled): it counts. */
  answered?: boolean;
  batchId?: string | null;
}

export function logRowOf(trace: CallTrace, outcome: CallOutcome): RequestLogRow {
  const { key, request, route, result } = trace;
  const entity = route?.target.entity;
  const ok = result !== undefined && (outcome.status < 400 || outcome.answered === true);
  const asked = (outcome.body as { model?: unknown } | undefined)?.model;
  return {
    id: outcome.id,
    created_at: new Date(trace.startedAt).toISOString(),
    key_id: key?.record.id ?? null,
    key_name: key?.record.name ?? null,
    requested_model: request?.model ?? (typeof asked === 'string' ? asked.slice(0, MAX_LOGGED_MODEL) : null),
    routed_model: route ? `${route.target.entity.id}/${route.model}` : null,
    resolved_model: result?.model ?? null,
    entity_id: entity?.id ?? null,
    provider: entity?.provider ?? null,
    input_count: request?.inputs.length ?? 0,
    prompt_tokens: ok ? result.promptTokens : 0,
    usage_estimated: result?.usageEstimated ?? false,
    dimensions: result?.vectors[0]?.length ?? request?.dimensions ?? null,
    encoding: request?.encodingFormat ?? null,
    status: outcome.status,
    error_code: outcome.status >= 400 ? outcome.errorCode : null,
    latency_ms: Math.round(outcome.latencyMs * 1000) / 1000,
    upstream_ms: trace.upstreamMs === undefined ? null : Math.round(trace.upstreamMs * 1000) / 1000,
    cost_usd: ok ? (trace.cost ?? 0) : 0,
    model_mismatch: route !== undefined && result !== undefined && !sameModel(route.model, result.model),
    cached_inputs: ok ? result.cache.cachedInputs : 0,
    cached_tokens: ok ? result.cache.cachedTokens : 0,
    cost_saved_usd: ok ? (trace.costSaved ?? 0) : 0,
    batch_id: outcome.batchId ?? null,
  };
}
