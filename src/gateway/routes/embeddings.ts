/** `POST /v1/embeddings`, and the one Request Log row each call leaves, success or failure. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KnownKey } from '../catalogue.js';
import { parseEmbeddingsRequest, type EmbeddingsRequest } from '../../core/embeddings-request.js';
import { costOf, entityPrice } from '../../core/prices.js';
import { sameModel, type RequestLogRow } from '../../core/request-log.js';
import { authenticateConsumer } from '../auth.js';
import type { GatewayContext } from '../context.js';
import type { DispatchResult } from '../dispatch.js';
import { routeRequest, type Route } from '../router.js';
import { serializeEmbeddings } from '../serialize.js';

/** What a call has learnt by the time it ends, however far it got. */
interface CallTrace {
  startedAt: number;
  key?: KnownKey;
  request?: EmbeddingsRequest;
  route?: Route;
  result?: DispatchResult;
  upstreamMs?: number;
  /** USD, once the call succeeded. */
  cost?: number;
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
    scope.addHook('onRequest', async (req, reply) => {
      req.trace = { startedAt: Date.now() };
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) clientLeft(req, reply);
      });
    });
    scope.addHook('onResponse', async (req, reply) => record(req, reply));

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
      const { catalogue } = await ctx.catalogue.current();
      trace.route = routeRequest(catalogue, request.model, trace.key.constraints);
      const price = entityPrice(trace.route.target.entity, trace.route.model) ?? 0;
      const admission = await ctx.limiter.admit(trace.key.record, {
        tokens: () => request.totalTokens(),
        pricePerMillion: price,
      });
      void reply.headers(admission.headers);
      const started = performance.now();
      try {
        trace.result = await ctx.dispatch(trace.route, request);
        trace.cost = costOf(trace.result.promptTokens, price);
      } finally {
        trace.upstreamMs = performance.now() - started;
        await ctx.limiter.settle(trace.key.record, admission, trace.result?.promptTokens ?? 0, trace.cost ?? 0);
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
