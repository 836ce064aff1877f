/**
 * The in-memory catalogue the hot path reads: routable entities and keys by hash, compiled once.
 * Reloaded when this process writes (invalidate) or when another replica did (the store's
 * catalogue version, checked at most once per `recheckMs`).
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
}

export class CatalogueCache {
  private snapshot: CatalogueSnapshot | undefined;
  private loadedVersion = -1;
  private checkedAt = 0;
  private loading: Promise<CatalogueSnapshot> | undefined;

  constructor(
    private readonly store: Store,
    private readonly providerDefaultModel: (entity: EmbeddingModelEntity) => string,
    private readonly recheckMs = 1000,
  ) {}

  invalidate(): void {
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
    const version = await this.store.catalogueVersion();
    this.checkedAt = Date.now();
    if (this.snapshot && version === this.loadedVersion) return this.snapshot;
    const [entities, keys] = await Promise.all([this.store.entities.list(), this.store.apiKeys.list()]);
    this.snapshot = {
      catalogue: buildCatalogue(entities, this.providerDefaultModel),
      keysByHash: new Map(keys.map((record) => [record.hash, { record, constraints: keyConstraintsOf(record) }])),
    };
    this.loadedVersion = version;
    return this.snapshot;
  }
}
