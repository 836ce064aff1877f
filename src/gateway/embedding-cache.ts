/**
 * The gateway's per-input embedding cache: entries live in the store (shared by every replica on
 * it) with a per-replica LRU in front. What a replica holds in memory is a cache of the store and
 * can be stale in two ways only, both bounded: an entry cleared elsewhere is dropped here at the
 * next catalogue check (the store's cache epoch, ≤ 250 ms), and an entry written here waits at most
 * `flushMs` before it is in the store (lost if the process dies first: a later miss, never a wrong
 * answer). Entries carry the epoch they were made in, and the store refuses those made before a
 * clear, so a clear is never undone by a late write. A store that fails makes lookups misses; it
 * never fails a call.
 */
import { LRUCache } from 'lru-cache';
import { cacheFingerprint } from '../core/cache-key.js';
import { float32FromBytes } from '../core/vectors.js';
import type { EmbeddingModelEntity } from '../core/entity.js';
import { cacheChecksum, isIntact } from '../store/cache-rows.js';
import type { CacheBounds, CacheRow, EmbeddingCacheStore } from '../store/store.js';

/** One cached vector as the hot path uses it. */
export interface CachedVector {
  model: string;
  vector: Float32Array;
  tokens: number;
  expiresAt: number;
  /** When the store last heard the entry was used (eviction there is least recently used first). */
  touchedAt: number;
}

export interface NewEntry {
  /** Hex, as `core/cache-key.ts` makes it. */
  key: string;
  entityId: string;
  model: string;
  vector: Float32Array;
  tokens: number;
  expiresAt: number;
}

export interface CacheSettings {
  /** Bytes of vectors this replica keeps in memory. */
  memoryBytes: number;
  /** Bounds on the store's entries, kept by the background prune. */
  bounds: CacheBounds;
  /** Written entries wait at most this long before a batched write to the store. */
  flushMs: number;
  /** Entries waiting for the store beyond which new ones are not written (counted). */
  maxPending: number;
  pruneEveryMs: number;
}

export const DEFAULT_CACHE_SETTINGS: CacheSettings = {
  memoryBytes: 64 * 1024 * 1024,
  bounds: { maxEntries: 1_000_000, maxBytes: 8 * 1024 * 1024 * 1024 },
  flushMs: 100,
  maxPending: 8192,
  pruneEveryMs: 30_000,
};

/** An entry used again this long after the store last heard of it is touched there. */
const TOUCH_AFTER_MS = 10 * 60_000;
/** A lookup the store has not answered by then is a miss (a PostgreSQL outage waits seconds to fail). */
const LOOKUP_TIMEOUT_MS = 250;
/** After a failed or late lookup, the store is left alone this long (memory hits still served). */
const STORE_BACKOFF_MS = 1000;
/** Per-entry bookkeeping in memory beyond the vector's bytes. */
const ENTRY_OVERHEAD = 160;

/** Counts since start, read by /metrics and `cache stats`. */
export interface CacheCounters {
  hits: number;
  misses: number;
  memoryEvictions: number;
  storeEvictions: number;
  expired: number;
  writesDropped: number;
  damaged: number;
}

export class EmbeddingCache {
  readonly counters: CacheCounters = {
    hits: 0,
    misses: 0,
    memoryEvictions: 0,
    storeEvictions: 0,
    expired: 0,
    writesDropped: 0,
    damaged: 0,
  };
  private readonly memory: LRUCache<string, CachedVector>;
  private pending: CacheRow[] = [];
  private touches: Buffer[] = [];
  private damaged: Buffer[] = [];
  private epoch: number | undefined;
  private storeDownUntil = 0;
  /** The store's totals as of the last prune (at most `pruneEveryMs` old; every replica's entries). */
  stored = { entries: 0, bytes: 0 };
  private flushing: Promise<void> | undefined;
  private failing = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly store: EmbeddingCacheStore,
    readonly settings: CacheSettings,
    private readonly liveEntities: () => Promise<string[]>,
    private readonly onError: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.memory = new LRUCache<string, CachedVector>({
      maxSize: settings.memoryBytes,
      sizeCalculation: (entry) => entry.vector.byteLength + ENTRY_OVERHEAD,
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') this.counters.memoryEvictions++;
      },
    });
  }

  /** Starts the periodic flush and prune (a gateway does; a test may drive them by hand). */
  start(): void {
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work(), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.settings.flushMs, () => this.flush());
    every(this.settings.pruneEveryMs, () => this.prune());
  }

  get memoryEntries(): number {
    return this.memory.size;
  }

  get memoryBytes(): number {
    return this.memory.calculatedSize;
  }

  /**
   * Fingerprints by entity object: a catalogue reload makes new objects, so an entity changed
   * anywhere gets a new one computed, and an old object's entries go with it.
   */
  private readonly fingerprints = new WeakMap<EmbeddingModelEntity, Map<string, string>>();

  fingerprint(entity: EmbeddingModelEntity, upstreamModel: string, dimensions: number | undefined): string {
    let known = this.fingerprints.get(entity);
    if (!known) this.fingerprints.set(entity, (known = new Map()));
    const at = `${dimensions ?? ''}/${upstreamModel}`;
    let print = known.get(at);
    if (print === undefined) known.set(at, (print = cacheFingerprint(entity, upstreamModel, dimensions)));
    return print;
  }

  /** The store's cache epoch as the catalogue last read it: a new one means a clear somewhere. */
  syncEpoch(epoch: number): void {
    if (this.epoch !== undefined && epoch !== this.epoch) {
      this.memory.clear();
      // Made before the clear: the store would refuse them anyway.
      this.counters.writesDropped += this.pending.length;
      this.pending = [];
    }
    this.epoch = epoch;
  }

  /** The entries of `keys`, by position (undefined: a miss). Never throws. */
  async lookup(keys: string[]): Promise<(CachedVector | undefined)[]> {
    const now = this.now();
    const found = new Array<CachedVector | undefined>(keys.length);
    const wanted = new Map<string, number[]>();
    for (let i = 0; i < keys.length; i++) {
      const id = keys[i]!;
      const entry = this.memory.get(id);
      if (entry && entry.expiresAt > now) {
        found[i] = entry;
        if (now - entry.touchedAt > TOUCH_AFTER_MS) {
          entry.touchedAt = now;
          this.touches.push(Buffer.from(id, 'hex'));
        }
      } else {
        if (entry) this.memory.delete(id);
        const positions = wanted.get(id);
        if (positions) positions.push(i);
        else wanted.set(id, [i]);
      }
    }
    if (wanted.size > 0) {
      const rows = await this.fromStore(
        [...wanted.keys()].map((id) => Buffer.from(id, 'hex')),
        now,
      );
      for (const row of rows) {
        const id = row.key.toString('hex');
        const entry: CachedVector = {
          model: row.model,
          vector: float32FromBytes(row.vector),
          tokens: row.tokens,
          expiresAt: Number(row.expires_at),
          touchedAt: now,
        };
        this.memory.set(id, entry);
        this.touches.push(row.key);
        for (const i of wanted.get(id) ?? []) found[i] = entry;
      }
    }
    for (const entry of found) {
      if (entry) this.counters.hits++;
      else this.counters.misses++;
    }
    return found;
  }

  private async fromStore(keys: Buffer[], now: number): Promise<CacheRow[]> {
    // A store that just failed or hung is not asked again for a while: the cache must never slow a call down.
    if (now < this.storeDownUntil) return [];
    let rows: CacheRow[];
    let timer: NodeJS.Timeout | undefined;
    try {
      rows = await Promise.race([
        this.store.get(keys, now),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${LOOKUP_TIMEOUT_MS} ms`)), LOOKUP_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      this.storeDownUntil = now + STORE_BACKOFF_MS;
      this.reportFailure(`cache lookups fail, answering from upstream: ${(error as Error).message}`);
      return [];
    } finally {
      clearTimeout(timer);
    }
    return rows.filter((row) => {
      if (isIntact(row)) return true;
      // Damaged (a torn write, a disk fault, a hand edit): never served, deleted at the next flush.
      this.counters.damaged++;
      this.damaged.push(row.key);
      return false;
    });
  }

  /** Keeps new entries: in memory at once, in the store at the next flush. */
  remember(entries: NewEntry[]): void {
    const now = this.now();
    for (const entry of entries) {
      this.memory.set(entry.key, {
        model: entry.model,
        vector: entry.vector,
        tokens: entry.tokens,
        expiresAt: entry.expiresAt,
        touchedAt: now,
      });
      if (this.pending.length >= this.settings.maxPending) {
        this.counters.writesDropped++;
        continue;
      }
      const bytes = Buffer.from(entry.vector.buffer, entry.vector.byteOffset, entry.vector.byteLength);
      this.pending.push({
        key: Buffer.from(entry.key, 'hex'),
        entity_id: entry.entityId,
        model: entry.model,
        dims: entry.vector.length,
        vector: bytes,
        tokens: entry.tokens,
        checksum: cacheChecksum(entry.model, bytes),
        expires_at: entry.expiresAt,
      });
    }
  }

  /** Writes what waits (entries, uses, damaged rows to delete) in batches; one flush at a time. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const epoch = this.epoch;
    if (epoch === undefined || (this.pending.length === 0 && this.touches.length === 0 && this.damaged.length === 0))
      return Promise.resolve();
    const [rows, touches, damaged] = [this.pending, this.touches, this.damaged];
    this.pending = [];
    this.touches = [];
    this.damaged = [];
    const now = this.now();
    this.flushing = (async () => {
      try {
        this.counters.writesDropped += rows.length - (await this.store.put(rows, now, epoch));
        await this.store.touch(touches, now);
        await this.store.forget(damaged);
        if (this.failing) this.onError('cache writes succeed again');
        this.failing = false;
      } catch (error) {
        // Not retried: a lost write is a later miss, and retrying would pile up behind a failing store.
        this.counters.writesDropped += rows.length;
        this.reportFailure(`cache writes fail, ${rows.length} entries not stored: ${(error as Error).message}`);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  async prune(): Promise<void> {
    try {
      const pruned = await this.store.prune(this.now(), this.settings.bounds, await this.liveEntities());
      this.counters.expired += pruned.expired;
      this.counters.storeEvictions += pruned.evicted;
      this.stored = { entries: pruned.entries, bytes: pruned.bytes };
    } catch (error) {
      this.reportFailure(`cache prune failed: ${(error as Error).message}`);
    }
  }

  private reportFailure(message: string): void {
    if (!this.failing) this.onError(message);
    this.failing = true;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    // A flush under way took its batch; what came after it needs one more.
    await this.flushing;
    await this.flush();
  }
}
