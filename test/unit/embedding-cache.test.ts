/**
 * The gateway's cache tier over a store that misbehaves in ways a real one does only in outages:
 * a lookup that hangs or fails is a miss within its bound, and the store is left alone for a while.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_SETTINGS, EmbeddingCache } from '../../src/gateway/embedding-cache.js';
import type { EmbeddingCacheStore } from '../../src/store/store.js';

function storeWhose(get: EmbeddingCacheStore['get']): EmbeddingCacheStore & { asked: number } {
  const store = {
    asked: 0,
    get: (keys: Buffer[], now: number) => {
      store.asked++;
      return get(keys, now);
    },
    put: async () => 0,
    touch: async () => undefined,
    forget: async () => undefined,
    stats: async () => [],
    clear: async () => 0,
    epoch: async () => 0,
    prune: async () => ({ expired: 0, evicted: 0 }),
  };
  return store;
}

const key = 'ab'.repeat(32);

describe('EmbeddingCache over a failing store', () => {
  it('answers a miss when the store hangs, within the lookup bound, and then skips the store for a second', async () => {
    const errors: string[] = [];
    const store = storeWhose(() => new Promise(() => undefined));
    let now = 1_000_000;
    const cache = new EmbeddingCache(
      store,
      DEFAULT_CACHE_SETTINGS,
      async () => [],
      (m) => errors.push(m),
      () => now,
    );
    expect(await cache.lookup([key])).toEqual([undefined]);
    expect(errors[0]).toMatch(/cache lookups fail.*no answer within 250 ms/);
    expect(await cache.lookup([key])).toEqual([undefined]);
    expect(store.asked).toBe(1);
    now += 1001;
    await cache.lookup([key]);
    expect(store.asked).toBe(2);
  });

  it('serves what it remembered from memory while the store fails', async () => {
    const store = storeWhose(async () => {
      throw new Error('connection refused');
    });
    const cache = new EmbeddingCache(
      store,
      DEFAULT_CACHE_SETTINGS,
      async () => [],
      () => undefined,
    );
    cache.syncEpoch(0);
    const vector = new Float32Array([1, 2, 3]);
    cache.remember([{ key, entityId: 'e', model: 'm', vector, tokens: 2, expiresAt: Date.now() + 60_000 }]);
    const [hit] = await cache.lookup([key, 'cd'.repeat(32)]);
    expect(hit?.vector).toEqual(vector);
    expect(cache.counters).toMatchObject({ hits: 1, misses: 1 });
  });
});
