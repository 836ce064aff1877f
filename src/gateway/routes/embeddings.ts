/** `POST /v1/embeddings`, and the one Request Log row each call leaves, success or failure. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KnownKey } from '../catalogue.js';
import { parseEmbeddingsRequest, type EmbeddingsRequest } from '../../core/embeddings-request.js';
import { costOf, entityPrice } from '../../core/prices.js';
import { sameModel, type RequestLogRow } from '../../core/request-log.js';
import { authenticateConsumer } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { CACHE_HEADER, parseCacheDirective } from '../../core/cache-key.js';
import { BodyHold, expectedUpstreamBytes } from '../body-budget.js';
import { planCall, uncached, type CachedResult } from '../cache-plan.js';
import { routeRequest, type Route } from '../router.js';
import { serializeEmbeddings } from '../serialize.js';

/** What a call has learnt by the time it ends, however far it got. */
interface CallTrace {
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
  /** The handler has returned or thrown. */
  handled?: boolean;
  /** The client closed the connection before its response was sent. */
  clientGone?: boolean;
  /** The row is written: once per call, whichever way it ends. */
  logged?: boolean;
}

/** nginx's status for a request whose client went away first; the response was never delivered. */
const CLIENT_CLOSED = 499;

declare module 'fastify' {
  interface FastifyRequest {
    trace: CallTrace | null;
  }
}

const MAX_LOGGED_MODEL = 200;

/** The requested model even when the body failed validation, as long as it is a string. */
function requestedModel(req: FastifyRequest, trace: CallTrace): string | null {
  if (trace.request) return trace.request.model;
  const model = (req.body as { model?: unknown } | undefined)?.model;
  return typeof model === 'string' ? model.slice(0, MAX_LOGGED_MODEL) : null;
}

const routedName = (route: Route) => `${route.target.entity.id}/${route.model}`;

function logRow(req: FastifyRequest, reply: FastifyReply, trace: CallTrace): RequestLogRow {
  const { key, request, route, result } = trace;
  const entity = route?.target.entity;
  // Tokens and cost of a call the upstream answered count even if the client left before the reply.
  const ok = result !== undefined && (reply.statusCode < 400 || trace.clientGone === true);
  const tokens = ok ? result.promptTokens : 0;
  return {
    id: req.id,
    created_at: new Date(trace.startedAt).toISOString(),
    key_id: key?.record.id ?? null,
    key_name: key?.record.name ?? null,
    requested_model: requestedModel(req, trace),
    routed_model: route ? routedName(route) : null,
    resolved_model: result?.model ?? null,
    entity_id: entity?.id ?? null,
    provider: entity?.provider ?? null,
    input_count: request?.inputs.length ?? 0,
    prompt_tokens: tokens,
    usage_estimated: result?.usageEstimated ?? false,
    dimensions: result?.vectors[0]?.length ?? request?.dimensions ?? null,
    encoding: request?.encodingFormat ?? null,
    status: reply.statusCode,
    error_code: reply.statusCode >= 400 ? (req.errorCode ?? null) : null,
    latency_ms: Math.round(reply.elapsedTime * 1000) / 1000,
    upstream_ms: trace.upstreamMs === undefined ? null : Math.round(trace.upstreamMs * 1000) / 1000,
    cost_usd: ok ? (trace.cost ?? 0) : 0,
    model_mismatch: route !== undefined && result !== undefined && !sameModel(route.model, result.model),
    cached_inputs: ok ? result.cache.cachedInputs : 0,
    cached_tokens: ok ? result.cache.cachedTokens : 0,
    cost_saved_usd: ok ? (trace.costSaved ?? 0) : 0,
  };
}

export function registerEmbeddingsRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.decorateRequest('trace', null);
  void app.register(async (scope) => {
    const record = (req: FastifyRequest, reply: FastifyReply) => {
      const trace = req.trace!;
      if (trace.logged) return;
      trace.logged = true;
      const row = logRow(req, reply, trace);
      ctx.logs.record(row);
      ctx.metrics.observe(row);
    };
    // A client that leaves still gets its row (status 499), once the upstream call it started is over
    // and its tokens and cost are known.
    const clientLeft = (req: FastifyRequest, reply: FastifyReply) => {
      req.trace!.clientGone = true;
      req.errorCode = 'client_closed_request';
      void reply.code(CLIENT_CLOSED);
      if (req.trace!.handled) record(req, reply);
    };
    // Callback-form hooks: no promise per request.
    scope.addHook('onRequest', (req, reply, done) => {
      req.trace = { startedAt: Date.now() };
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) clientLeft(req, reply);
      });
      done();
    });
    scope.addHook('onResponse', (req, reply, done) => {
      record(req, reply);
      done();
    });

    scope.post('/v1/embeddings', async (req, reply) => {
      try {
        return await embed(req, reply);
      } finally {
        req.trace!.handled = true;
        if (req.trace!.clientGone) record(req, reply);
      }
    });

    const embed = async (req: FastifyRequest, reply: FastifyReply) => {
      const trace = req.trace!;
      // OpenAI's order: who is asking, then what they asked.
      trace.key = await authenticateConsumer(req.headers, ctx.catalogue);
      trace.request = parseEmbeddingsRequest(req.body);
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
        parseCacheDirective(req.headers[CACHE_HEADER]),
      );
      const toSend = plan.upstream;
      const admission = await ctx.limiter.admit(trace.key.record, {
        tokens: async () => (toSend ? toSend.totalTokens() : 0),
        pricePerMillion: price,
      });
      void reply.headers(admission.headers);
      const started = performance.now();
      let upstreamTokens = 0;
      try {
        // Large answers are read when they fit the body budget; their bytes are held until the caller has them.
        const expected = toSend ? expectedUpstreamBytes(toSend, route.target.entity) : 0;
        let hold: BodyHold | undefined;
        if (expected >= ctx.bodyBudget.minBytes) {
          const taken = new BodyHold(ctx.bodyBudget, expected);
          reply.raw.once('close', () => taken.end());
          hold = taken;
        }
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
        if (result.cache.header) void reply.header(CACHE_HEADER, result.cache.header);
      } finally {
        trace.upstreamMs = performance.now() - started;
        await ctx.limiter.settle(trace.key.record, admission, upstreamTokens, trace.cost ?? 0);
      }
      reply.type('application/json');
      const lendBody = (size: number) => {
        const lease = ctx.bodies.lease(size);
        reply.raw.once('finish', lease.release);
        return lease.buffer;
      };
      return serializeEmbeddings(
        trace.result.vectors,
        trace.request.encodingFormat,
        trace.result.model,
        trace.result.promptTokens,
        lendBody,
      );
    };
  });
}
