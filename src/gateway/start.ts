/** Starts a gateway over a data dir: opens the store, bootstraps it if empty, listens. */
import type { FastifyInstance } from 'fastify';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { preloadTokenizer } from '../core/tokenizer.js';
import { VERSION } from '../version.js';
import { ADMIN_TOKEN_SETTING, bootstrapStore, type BootstrapSecrets } from './bootstrap.js';
import { CATALOGUE_RECHECK_MS, CatalogueCache } from './catalogue.js';
import { BodyBudget } from './body-budget.js';
import { BufferPool } from './buffer-pool.js';
import { createDispatch } from './dispatch.js';
import { DEFAULT_CACHE_SETTINGS, EmbeddingCache, type CacheSettings } from './embedding-cache.js';
import { KeyLimiter, type OutagePolicy } from './limits.js';
import { LogTail } from './log-tail.js';
import { startHeartbeat } from './instances.js';
import { GatewayMetrics } from './metrics.js';
import { DEFAULT_PIPELINE, RequestLogPipeline, startRetention } from './request-log.js';
import { providerDefaultModel } from './providers/index.js';
import { buildServer, DEFAULT_BODY_LIMIT, DEFAULT_REQUEST_TIMEOUT_MS } from './server.js';
import { Credentials } from './credentials/index.js';
import { BatchRunner, DEFAULT_BATCH_RUNNER } from './batch-runner.js';
import { DEFAULT_FILE_TTL_S, DEFAULT_MAX_FILE_MB, startFilePrune } from './file-upload.js';
import { createUpstreamPool, DEFAULT_RETRY, type RetryPolicy } from './upstream.js';

export const DEFAULT_RETENTION_MS = 30 * 86_400_000;
export const DEFAULT_MAX_LOG_ROWS = 1_000_000;
export const DEFAULT_UPSTREAM_BODY_BUDGET = 24 * 1024 * 1024;

export interface GatewayOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  /** A PostgreSQL URL for a store shared by several gateways; undefined: SQLite in the data dir. */
  storeUrl?: string;
  /** The file holding the base64 key that seals upstream credentials (else EMBCTL_SECRET_KEY, else the data dir's). */
  secretKeyFile?: string;
  adminToken?: string;
  /** Keys with limits while the store is unreachable: refused with 503 (default) or admitted uncounted. */
  limitsOnStoreOutage?: OutagePolicy;
  bodyLimit?: number;
  requestTimeoutMs?: number;
  tls?: { key: Buffer; cert: Buffer };
  retry?: RetryPolicy;
  /** Request logs older than this are deleted (default 30 days). */
  logRetentionMs?: number;
  /** At most this many request-log rows are kept (default 1 000 000). */
  logMaxRows?: number;
  /** One of `gateway start --workers N`'s processes: the port is shared through the cluster primary. */
  clusterWorker?: boolean;
  /** This gateway's name among several sharing a store (`instance` label in /metrics; default host:pid). */
  instance?: string;
  /** Rows kept in memory while the store refuses writes (default 100 000); beyond, the oldest are dropped and counted. */
  logBufferRows?: number;
  logError?: (message: string) => void;
  /** The environment `${env:…}` references resolve in (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Variables entities may read through `${env:…}` (globs); undefined: the default credential names. */
  allowEnv?: string[];
  /** The embedding cache's bounds: memory per gateway, entries and bytes in the store (see DEFAULT_CACHE_SETTINGS). */
  cache?: { memoryBytes?: number; maxEntries?: number; maxBytes?: number };
  maxConnections?: number;
  maxConnectionsPerIp?: number;
  keepAliveTimeoutMs?: number;
  /** Upstream response bytes held at once (default 32 MiB); larger answers wait their turn. */
  upstreamBodyBudgetBytes?: number;
  /** Largest upload to `POST /v1/files` (default 512 MiB). */
  maxFileBytes?: number;
  /** How long uploaded files are kept (default 30 days). */
  fileTtlS?: number;
  /** Batch jobs: a claimed slice's lease (default 30 s) and upstream calls in flight per gateway (default 4). */
  batchLeaseMs?: number;
  batchConcurrency?: number;
  /** The share of a key's rpm/tpm its batch jobs may use, in percent (default 80). */
  batchRatePercent?: number;
  /**
   * Load the tokenizer before listening (default), so that no caller's first long input stalls
   * the others; a gateway embedded in one CLI command has no other callers and skips it.
   */
  preloadTokenizer?: boolean;
}

export interface RunningGateway {
  url: string;
  store: Store;
  /** Set on the first start over an empty data dir: the only time the secrets are known in clear. */
  bootstrap: BootstrapSecrets | undefined;
  /** Stops accepting, lets in-flight requests finish, closes the store. */
  close(): Promise<void>;
}

/** A gateway built but not listening: its Fastify app (tests call it with `inject`), store and shutdown. */
export interface BuiltGateway {
  app: FastifyInstance;
  store: Store;
  bootstrap: BootstrapSecrets | undefined;
  close(): Promise<void>;
}

function cacheSettings(given: GatewayOptions['cache'] = {}): CacheSettings {
  const { memoryBytes, bounds } = DEFAULT_CACHE_SETTINGS;
  return {
    ...DEFAULT_CACHE_SETTINGS,
    memoryBytes: given.memoryBytes ?? memoryBytes,
    bounds: { maxEntries: given.maxEntries ?? bounds.maxEntries, maxBytes: given.maxBytes ?? bounds.maxBytes },
  };
}

/** Everything but the socket: the store opened and bootstrapped, the context, the routes. */
export async function buildGateway(options: Omit<GatewayOptions, 'host' | 'port'>): Promise<BuiltGateway> {
  const logError = options.logError ?? ((message: string) => process.stderr.write(`embctl gateway: ${message}\n`));
  const store = await openStore({
    dataDir: options.dataDir,
    url: options.storeUrl,
    env: options.env ?? process.env,
    secretKeyFile: options.secretKeyFile,
    onError: logError,
  });
  try {
    const bootstrap = await bootstrapStore(store, options.adminToken);
    const pool = createUpstreamPool();
    const tail = new LogTail(store.logs, logError);
    const catalogue = new CatalogueCache(
      store,
      providerDefaultModel,
      ADMIN_TOKEN_SETTING,
      CATALOGUE_RECHECK_MS,
      logError,
    );
    // Known before the first request, and readiness waits for it.
    await catalogue.current();
    const instance = options.instance ?? `${hostname()}:${process.pid}`;
    const logs = new RequestLogPipeline(store.logs, {
      ...DEFAULT_PIPELINE,
      ...(options.logBufferRows ? { maxBuffered: options.logBufferRows } : {}),
      onError: logError,
      onStored: () => tail.wake(),
    });
    const stopRetention = startRetention(
      store,
      {
        maxAgeMs: options.logRetentionMs ?? DEFAULT_RETENTION_MS,
        maxRows: options.logMaxRows ?? DEFAULT_MAX_LOG_ROWS,
        everyMs: 60_000,
      },
      logError,
    );
    const cache = new EmbeddingCache(
      store.cache,
      cacheSettings(options.cache),
      async () => (await catalogue.current()).catalogue.entities.map((r) => r.entity.id),
      logError,
    );
    cache.start();
    const bodyBudget = new BodyBudget(options.upstreamBodyBudgetBytes ?? DEFAULT_UPSTREAM_BODY_BUDGET);
    const credentials = new Credentials({
      env: options.env ?? process.env,
      allowEnv: options.allowEnv,
      pool,
      now: Date.now,
    });
    const ctx = {
      store,
      cache,
      catalogue,
      dispatch: createDispatch({ pool, retry: options.retry ?? DEFAULT_RETRY }, credentials),
      credentials,
      allowEnv: options.allowEnv,
      logs,
      tail,
      limiter: new KeyLimiter(store.usage, () => logs.flush(), options.limitsOnStoreOutage, logError),
      metrics: new GatewayMetrics(instance, {
        logRowsBuffered: () => logs.buffered,
        logRowsDropped: () => logs.dropped,
        storeUp: () => catalogue.storeReachable,
        cache: () => cache,
        bodyBudget: () => bodyBudget,
      }),
      instance,
      bodies: new BufferPool(),
      bodyBudget,
      version: VERSION,
      startedAt: Date.now(),
      closing: false,
    };
    const app = buildServer(ctx, {
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      tls: options.tls,
      logError,
      maxConnections: options.maxConnections,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs,
      files: {
        maxBytes: options.maxFileBytes ?? DEFAULT_MAX_FILE_MB * 1024 * 1024,
        ttlS: options.fileTtlS ?? DEFAULT_FILE_TTL_S,
        // One request of a batch is at most what /v1/embeddings takes.
        maxLineBytes: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      },
    });
    const stopFilePrune = startFilePrune(store.files, 60_000, logError);
    const batches = new BatchRunner(ctx, {
      ...DEFAULT_BATCH_RUNNER,
      worker: instance,
      leaseMs: options.batchLeaseMs ?? DEFAULT_BATCH_RUNNER.leaseMs,
      concurrency: options.batchConcurrency ?? DEFAULT_BATCH_RUNNER.concurrency,
      rateShare: (options.batchRatePercent ?? DEFAULT_BATCH_RUNNER.ratePercent) / 100,
      fileTtlS: options.fileTtlS ?? DEFAULT_FILE_TTL_S,
      onError: logError,
    });
    batches.start();
    if (options.preloadTokenizer !== false) preloadTokenizer();
    const stopHeartbeat = startHeartbeat(store, {
      instance,
      version: VERSION,
      pid: process.pid,
      started_at: ctx.startedAt,
    });
    let closing: Promise<void> | undefined;
    return {
      app,
      store,
      bootstrap,
      close: () =>
        (closing ??= (async () => {
          ctx.closing = true;
          stopRetention();
          stopFilePrune();
          await batches.stop();
          stopHeartbeat();
          // Live log streams would hold the server open: end them, then let requests finish.
          tail.end();
          await app.close();
          await logs.close();
          await cache.close();
          await pool.close();
          await store.close();
        })()),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The port was taken: nothing was created (the check runs before a first start bootstraps). */
export class PortInUse extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`port ${port} on ${host} is in use`);
    this.name = 'PortInUse';
  }
}

export async function ensurePortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUse(host, port) : error),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  // A cluster worker's listen goes through its primary, which checked the port once for all.
  if (!options.clusterWorker) await ensurePortFree(options.host, options.port);
  const gateway = await buildGateway(options);
  try {
    await gateway.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await gateway.close();
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new PortInUse(options.host, options.port) : error;
  }
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    store: gateway.store,
    bootstrap: gateway.bootstrap,
    close: gateway.close,
  };
}
