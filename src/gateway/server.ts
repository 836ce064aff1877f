/** Builds the gateway's HTTP app: parsing, error shape, request ids, and the routes. Nothing else. */
import Fastify, { type FastifyInstance } from 'fastify';
import { isUtf8 } from 'node:buffer';
import type { Server, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ApiError, invalidRequest } from '../core/errors.js';
import { clip } from '../core/limits.js';
import type { GatewayContext } from './context.js';
import { toApiError, unsupportedContentType } from './http-errors.js';
import { registerAdminKeyRoutes } from './routes/admin-keys.js';
import { registerAdminModelRoutes } from './routes/admin-models.js';
import { registerEmbeddingsRoutes } from './routes/embeddings.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerAdminTokenRoutes } from './routes/admin-token.js';
import { registerCacheRoutes } from './routes/cache.js';
import { registerFileRoutes } from './routes/files.js';
import { registerBatchRoutes } from './routes/batches.js';
import type { FileLimits } from './file-upload.js';
import { registerRequestLogRoutes } from './routes/request-logs.js';
import { registerModelRoutes } from './routes/models.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The `code` of the error this request was answered with, for the request log. */
    errorCode: string | null;
  }
}

export interface ServerOptions {
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
  /** A client must send its whole request within this (slowloris defence). */
  requestTimeoutMs: number;
  /** PEM key and certificate: serve HTTPS. */
  tls?: { key: Buffer; cert: Buffer } | undefined;
  /** Where internal failures are reported (never to the caller). */
  logError: (message: string) => void;
  /** Open connections at most, in all and from one address: idle sockets cannot lock callers out. */
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs?: number;
  /** The Files API's bounds (upload size, lifetime). */
  files: FileLimits;
}

export const DEFAULT_MAX_CONNECTIONS = 2048;
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 256;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Refuses a connection beyond the per-address cap at once (a socket that never speaks costs a file descriptor). */
function capConnectionsPerAddress(server: Server, perAddress: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** 300 000 tokens of text or token ids fit in well under this. */
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * Request ids: a random prefix per server and a counter, unique across restarts and replicas without
 * asking the entropy pool on every request. Always 24 hex digits after `req_`.
 */
function requestIds(): () => string {
  const prefix = randomBytes(6).toString('hex');
  let counter = 0;
  return () => `req_${prefix}${(counter++ % 0x1000000000000).toString(16).padStart(12, '0')}`;
}

function parseJsonBody(body: Buffer): unknown {
  if (!isUtf8(body))
    throw invalidRequest(
      'The request body is not valid UTF-8; JSON must be encoded as UTF-8.',
      null,
      'invalid_encoding',
    );
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalidRequest(`The request body is not valid JSON (${(error as Error).message}).`, null, 'invalid_json');
  }
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export function buildServer(ctx: GatewayContext, options: ServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    ...(options.tls ? { https: options.tls } : {}),
    bodyLimit: options.bodyLimit,
    // Slow clients: the whole request (headers and body) within requestTimeout, headers within it
    // too. Header size stays at Node's 16 KB (431 above).
    requestTimeout: options.requestTimeoutMs,
    // A socket silent this long (one that never sends a request, say) is closed.
    connectionTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    genReqId: requestIds(),
    // Lets in-flight requests finish on shutdown while new ones are told to go elsewhere.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  app.server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  capConnectionsPerAddress(app.server, options.maxConnectionsPerIp ?? DEFAULT_MAX_CONNECTIONS_PER_IP);

  app.removeAllContentTypeParsers();
  // The patch media types too: JSON Patch and Merge Patch clients (the reference's among them) send them.
  const jsonTypes = ['application/json', 'application/json-patch+json', 'application/merge-patch+json'];
  app.addContentTypeParser(jsonTypes, { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error);
    }
  });
  app.addContentTypeParser('*', (req, _payload, done) => done(unsupportedContentType(req.headers['content-type'])));

  // Hooks in callback form: they run on every request, and an async hook costs a promise each time.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  // A parameter given twice (`?since=1h&since=2h`) is ambiguous: refused for every route, by name.
  app.addHook('preValidation', (req, _reply, done) => {
    if (!req.url.includes('?')) return done();
    const repeated = Object.entries((req.query ?? {}) as Record<string, unknown>).find(([, value]) =>
      Array.isArray(value),
    );
    if (!repeated) return done();
    done(
      invalidRequest(
        `The query parameter '${clip(repeated[0])}' is given ${(repeated[1] as unknown[]).length} times; give it ` +
          `once (a list goes comma-separated in one value).`,
        clip(repeated[0]),
        'repeated_parameter',
      ),
    );
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    // Without this, a keep-alive connection that was busy when shutdown began holds the process open.
    if (ctx.closing) reply.header('connection', 'close');
    done(null, payload);
  });

  app.decorateRequest('errorCode', null);
  app.setErrorHandler((error, req, reply) => {
    // The client is gone (its stream closed early): nobody to answer, nothing went wrong here.
    if (reply.raw.destroyed) return;
    const apiError = toApiError(error);
    req.errorCode = apiError.code;
    if (apiError.kind === 'internal')
      options.logError(`${req.id} ${req.method} ${req.url}: ${(error as Error).stack ?? String(error)}`);
    void reply.code(apiError.status).headers(apiError.headers).send(apiError.toBody());
  });

  app.setNotFoundHandler((req, reply) => {
    const error = new ApiError(
      'not_found',
      `Unknown request URL: ${req.method} ${req.url.split('?')[0]}. The gateway serves POST /v1/embeddings, GET ` +
        `/v1/models and the admin API under /v1.`,
      {
        code: 'unknown_url',
      },
    );
    void reply.code(error.status).send(error.toBody());
  });

  registerHealthRoutes(app, ctx);
  registerModelRoutes(app, ctx);
  registerEmbeddingsRoutes(app, ctx);
  registerAdminModelRoutes(app, ctx);
  registerAdminKeyRoutes(app, ctx);
  registerRequestLogRoutes(app, ctx);
  registerAdminTokenRoutes(app, ctx);
  registerCacheRoutes(app, ctx);
  registerFileRoutes(app, ctx, options.files);
  registerBatchRoutes(app, ctx, options.files.maxLineBytes);
  return app;
}
