/**
 * The embedding cache in SQLite: its own file (see `cache-database.ts`), read by key on the
 * gateway's thread, written, scanned and pruned by a worker thread (`cache-writer.ts`) so that
 * vector writes never hold the event loop.
 */
import { Worker } from 'node:worker_threads';
import type { CachePruned, CacheRow, CacheUsage, EmbeddingCacheStore } from '../store.js';
import { cachePath, cacheReader, openCacheDatabase, type CacheWriteOp } from './cache-database.js';

/**
 * The compiled worker script beside this module; when this module runs from its TypeScript source
 * (the test runner), the same file in `dist/`, which `npm test` builds first.
 */
function compiledSibling(name: string): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL(`./${name}.js`, here);
  const at = here.lastIndexOf('/src/');
  return new URL(`${here.slice(0, at)}/dist/${here.slice(at + 5).replace(/[^/]+\.ts$/, `${name}.js`)}`);
}

export function openSqliteEmbeddingCache(
  dataDir: string,
  bumpCatalogue: () => void,
): EmbeddingCacheStore & { close(): Promise<void> } {
  const path = cachePath(dataDir);
  // Migrated here, before the writer opens it.
  const db = openCacheDatabase(path);
  const reader = cacheReader(db);
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 0;
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure = error;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  // Started at the first write: a gateway whose entities do not cache never pays for the thread (~15 MB).
  let worker: Worker | undefined;
  const writer = (): Worker => {
    if (worker) return worker;
    const started = new Worker(compiledSibling('cache-writer'), { workerData: { path } });
    started.on('message', (message: { id: number; result?: unknown; error?: string }) => {
      const pending = waiting.get(message.id);
      waiting.delete(message.id);
      if (waiting.size === 0) started.unref();
      if (message.error !== undefined) pending?.reject(new Error(message.error));
      else pending?.resolve(message.result);
    });
    started.on('error', failAll);
    started.on('exit', () => failAll(failure ?? new Error('the embedding cache writer has stopped')));
    // Held only while a call waits for it (after the listeners: a 'message' listener refs it again),
    // so a process that does not close its store may still exit. The gateway closes it, and flushes, first.
    started.unref();
    return (worker = started);
  };

  const call = <T>(op: CacheWriteOp | 'close', ...args: unknown[]) =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure);
      const thread = writer();
      const id = nextId++;
      if (waiting.size === 0) thread.ref();
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      thread.postMessage({ id, op, args });
    });

  return {
    async get(keys, now) {
      return reader.get(keys, now);
    },
    put: (rows: CacheRow[], now, epoch) => (rows.length ? call<number>('put', rows, now, epoch) : Promise.resolve(0)),
    touch: async (keys, now) => {
      if (keys.length) await call('touch', keys, now);
    },
    forget: async (keys) => {
      if (keys.length) await call('forget', keys);
    },
    // An empty cache needs no scan, and no writer thread started for one.
    stats: async (entityId) => (!worker && reader.empty() ? [] : call<CacheUsage[]>('stats', entityId)),
    async clear(entityId) {
      const deleted = await call<number>('clear', entityId);
      // Tells every gateway on this data dir to re-read the epoch at its next catalogue check.
      bumpCatalogue();
      return deleted;
    },
    async epoch() {
      return reader.epoch();
    },
    prune: async (now, bounds, liveEntities) =>
      !worker && reader.empty()
        ? { expired: 0, evicted: 0, entries: 0, bytes: 0 }
        : call<CachePruned>('prune', now, bounds, liveEntities),
    async close() {
      if (worker && !failure) await call('close').catch(() => undefined);
      if (db.open) db.close();
    },
  };
}
