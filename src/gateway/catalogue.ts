/**
 * The in-memory catalogue the hot path reads: routable entities, keys by hash and the admin token's
 * hash, compiled once. A cache of the store: reloaded when this process writes (invalidate) or when
 * another gateway did (the store's catalogue version, checked at most once per `recheckMs`, so a
 * write anywhere is enforced here within that plus one query). While the store cannot be reached
 * the last snapshot keeps serving, and `storeReachable` says so (readiness).
 */
import type { ApiKeyRecord } from '../core/api-key.js';
import type { EmbeddingModelEntity } from '../core/entity.js';
import type { Store } from '../store/store.js';
import { buildCatalogue, keyConstraintsOf, type Catalogue, type KeyConstraints } from './router.js';

export interface KnownKey {
  record: ApiKeyRecord;
  constraints: KeyConstraints;
}

export interface CatalogueSnapshot {
  catalogue: Catalogue;
  keysByHash: Map<string, KnownKey>;
  /** SHA-256 of the admin token: a rotation through any gateway reaches this one like any write. */
  adminTokenHash: string;
  /** Bumped by every cache clear (which also bumps the catalogue version): replicas then drop their LRU. */
  cacheEpoch: number;
}

/** How often the store's catalogue version is checked: bounds how stale a replica's view can be. */
export const CATALOGUE_RECHECK_MS = 250;

export class CatalogueCache {
  private snapshot: CatalogueSnapshot | undefined;
  private loadedVersion = -1;
  private checkedAt = 0;
  private loading: Promise<CatalogueSnapshot> | undefined;
  /** False since the last check failed; true again at the first that succeeds. */
  storeReachable = true;

  constructor(
    private readonly store: Store,
    private readonly providerDefaultModel: (entity: EmbeddingModelEntity) => string,
    private readonly adminTokenSetting: string,
    private readonly recheckMs = CATALOGUE_RECHECK_MS,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  /** Bumped by `invalidate`: a reload that began before it may miss the write, and is done again. */
  private generation = 0;

  invalidate(): void {
    this.generation++;
    this.loadedVersion = -1;
    this.checkedAt = 0;
  }

  async current(): Promise<CatalogueSnapshot> {
    if (this.snapshot && Date.now() - this.checkedAt < this.recheckMs) return this.snapshot;
    // One reload at a time: a burst of requests after a write shares it.
    this.loading ??= this.refresh().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async refresh(): Promise<CatalogueSnapshot> {
    try {
      let snapshot: CatalogueSnapshot;
      let generation: number;
      do {
        generation = this.generation;
        snapshot = await this.load();
      } while (generation !== this.generation);
      if (!this.storeReachable) this.onError('the store answers again');
      this.storeReachable = true;
      return snapshot;
    } catch (error) {
      if (!this.snapshot) throw error;
      // Keep serving what is known; try again at the next check.
      if (this.storeReachable)
        this.onError(`the store is unreachable, serving the last catalogue: ${(error as Error).message}`);
      this.storeReachable = false;
      this.checkedAt = Date.now();
      return this.snapshot;
    }
  }

  private async load(): Promise<CatalogueSnapshot> {
    const [version, adminTokenHash] = await Promise.all([
      this.store.catalogueVersion(),
      this.store.settings.get(this.adminTokenSetting),
    ]);
    // `checkedAt` moves only once the snapshot is current: until then callers wait for this load
    // rather than take the old snapshot as fresh.
    if (this.snapshot && version === this.loadedVersion && adminTokenHash === this.snapshot.adminTokenHash) {
      this.checkedAt = Date.now();
      return this.snapshot;
    }
    const [entities, keys, cacheEpoch] = await Promise.all([
      this.store.entities.list(),
      this.store.apiKeys.list(),
      this.store.cache.epoch(),
    ]);
    this.snapshot = {
      catalogue: buildCatalogue(entities, this.providerDefaultModel),
      keysByHash: new Map(keys.map((record) => [record.hash, { record, constraints: keyConstraintsOf(record) }])),
      adminTokenHash: adminTokenHash ?? '',
      cacheEpoch,
    };
    this.loadedVersion = version;
    this.checkedAt = Date.now();
    return this.snapshot;
  }
}
