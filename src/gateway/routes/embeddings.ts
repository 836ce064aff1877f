/** `POST /v1/embeddings`, and the one Request Log row each call leaves, success or failure. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KnownKey } from '../catalogue.js';
import type { RequestLogRow } from '../../core/request-log.js';
import { authenticateConsumer } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { CACHE_HEADER, parseCacheDirective } from '../../core/cache-key.js';
import { BodyHold } from '../body-budget.js';
import { embedCall, logRowOf, type CallTrace } from '../embed-call.js';
import { serializeEmbeddings } from '../serialize.js';

/** A call as the route sees it: what it learnt, and how its HTTP exchange went. */
interface RouteTrace extends CallTrace {
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
    trace: RouteTrace | null;
  }
}

function logRow(req: FastifyRequest, reply: FastifyReply, trace: RouteTrace): RequestLogRow {
  return logRowOf(trace, {
    id: req.id,
    status: reply.statusCode,
    errorCode: req.errorCode ?? null,
    latencyMs: reply.elapsedTime,
    body: req.body,
    // Tokens and cost of a call the upstream answered count even if the client left before the reply.
    answered: trace.clientGone === true,
  });
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
      const key = await authenticateConsumer(req.headers, ctx.catalogue);
      trace.key = key;
      const result = await embedCall(ctx, trace as RouteTrace & { key: KnownKey }, req.body, {
        cacheDirective: parseCacheDirective(req.headers[CACHE_HEADER]),
        onAdmission: (headers) => void reply.headers(headers),
        // Large answers are read when they fit the body budget; their bytes are held until the caller has them.
        hold: (bytes) => {
          const taken = new BodyHold(ctx.bodyBudget, bytes);
          // The caller may have left already, while the call was checked: 'close' will not come again.
          if (reply.raw.closed) taken.responseEnded();
          else reply.raw.once('close', () => taken.responseEnded());
          return taken;
        },
      });
      if (result.cache.header) void reply.header(CACHE_HEADER, result.cache.header);
      reply.type('application/json');
      const lendBody = (size: number) => {
        const lease = ctx.bodies.lease(size);
        reply.raw.once('finish', lease.release);
        return lease.buffer;
      };
      return serializeEmbeddings(
        result.vectors,
        trace.request!.encodingFormat,
        result.model,
        result.promptTokens,
        lendBody,
      );
    };
  });
}
