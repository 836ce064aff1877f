/** The catalogue cache over a real store: a reload in progress is never mistaken for a fresh snapshot. */
import { describe, expect, it } from 'vitest';
import { CatalogueCache } from '../../src/gateway/catalogue.js';
import { ADMIN_TOKEN_SETTING } from '../../src/store/keys.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/cli.js';

const key = (id: string) => ({
  id,
  name: id,
  hash: `hash-${id}`,
  redacted: 'emb_…',
  enabled: true,
  expires_at: null,
  revoked_at: null,
  metadata: {},
  created_at: '2026-12-01T00:00:00Z',
  updated_at: '2026-12-01T00:00:00Z',
});

/** The real store, with key listing held at a gate the test opens. */
function gated(store: Store) {
  let open: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  const wrapped: Store = {
    ...store,
    apiKeys: {
      ...store.apiKeys,
      list: async () => {
        await gate;
        return store.apiKeys.list();
      },
    },
  };
  return {
    store: wrapped,
    hold: () => {
      gate = new Promise((resolve) => (open = resolve));
    },
    release: () => open(),
  };
}

describe('CatalogueCache', () => {
  it('makes callers wait for a reload in progress instead of serving the old snapshot as fresh', async () => {
    const store = await openStore({ dataDir: tempDir('catalogue'), env: {}, onError: () => {} });
    const { store: slow, hold, release } = gated(store);
    const cache = new CatalogueCache(slow, () => 'm', ADMIN_TOKEN_SETTING, 60_000);
    expect((await cache.current()).keysByHash.size).toBe(0);

    await store.apiKeys.create(key('key_new'));
    cache.invalidate();
    hold();
    const first = cache.current();
    // The reload has read the catalogue version by now, and waits on the keys.
    await new Promise((r) => setTimeout(r, 20));
    const second = cache.current();
    let settled = false;
    void second.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    release();
    for (const snapshot of await Promise.all([first, second]))
      expect(snapshot.keysByHash.has('hash-key_new')).toBe(true);
    await store.close();
  });

  it('reloads again when this process wrote while a reload was under way', async () => {
    const store = await openStore({ dataDir: tempDir('catalogue'), env: {}, onError: () => {} });
    const { store: slow, hold, release } = gated(store);
    const cache = new CatalogueCache(slow, () => 'm', ADMIN_TOKEN_SETTING, 60_000);
    await cache.current();
    await store.apiKeys.create(key('key_a'));
    cache.invalidate();
    hold();
    const loading = cache.current();
    await new Promise((r) => setTimeout(r, 10));
    // Written after the reload read the catalogue version: it must still be seen.
    await store.apiKeys.create(key('key_b'));
    cache.invalidate();
    release();
    await loading;
    expect((await cache.current()).keysByHash.has('hash-key_b')).toBe(true);
    await store.close();
  });
});
