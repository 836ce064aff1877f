import type { Store } from '../store/store.js';
import type { CatalogueCache } from './catalogue.js';
import type { Dispatch } from './dispatch.js';

/** What every route handler may use: no globals, so tests can build as many gateways as they like. */
export interface GatewayContext {
  store: Store;
  catalogue: CatalogueCache;
  dispatch: Dispatch;
  /** SHA-256 of the admin token, checked in constant time. */
  adminTokenHash: string;
  version: string;
  startedAt: number;
  /** Set when shutdown begins: responses then close their connection so the process can exit. */
  closing: boolean;
}
