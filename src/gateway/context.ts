import type { EnvAllowList } from '../core/secrets.js';
import type { Store } from '../store/store.js';
import type { BodyBudget } from './body-budget.js';
import type { BufferPool } from './buffer-pool.js';
import type { CatalogueCache } from './catalogue.js';
import type { Credentials } from './credentials/index.js';
import type { Dispatch } from './dispatch.js';
import type { EmbeddingCache } from './embedding-cache.js';
import type { KeyLimiter } from './limits.js';
import type { LogTail } from './log-tail.js';
import type { GatewayMetrics } from './metrics.js';
import type { RequestLogPipeline } from './request-log.js';

/** What every route handler may use: no globals, so tests can build as many gateways as they like. */
export interface GatewayContext {
  store: Store;
  catalogue: CatalogueCache;
  dispatch: Dispatch;
  /** The upstream credential sources (minted tokens are cached here, per replica). */
  credentials: Credentials;
  logs: RequestLogPipeline;
  /** The live Request Log stream, read from the store (every gateway's rows). */
  tail: LogTail;
  limiter: KeyLimiter;
  /** The per-input embedding cache (used by entities that enable it). */
  cache: EmbeddingCache;
  metrics: GatewayMetrics;
  /** Memory for response bodies, reused across requests. */
  bodies: BufferPool;
  /** The upstream response bytes held at once. */
  bodyBudget: BodyBudget;
  /** The environment variables entities may name in `${env:…}` (undefined: the default list). */
  allowEnv: EnvAllowList | undefined;
  version: string;
  /** This gateway's name among the gateways sharing its store. */
  instance: string;
  startedAt: number;
  /** Set when shutdown begins: responses then close their connection so the process can exit. */
  closing: boolean;
}
