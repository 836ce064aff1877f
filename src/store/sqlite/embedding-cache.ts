/** The embedding cache in SQLite: one table beside the catalogue, its writes in batched transactions. */
import type Database from 'better-sqlite3';
import { CACHE_EPOCH_SETTING, evictionCount, lastPerKey, PRUNE_BATCH } from '../cache-rows.js';
import type { CacheRow, CacheUsage, EmbeddingCacheStore } from '../store.js';

const COLUMNS = 'key, entity_id, model, dims, tokens, checksum, expires_at, vector';

export function sqliteEmbeddingCache(db: Database.Database, bumpCatalogue: () => void): EmbeddingCacheStore {
  const q = {
    get: db.prepare<[Buffer, number], CacheRow>(
      `SELECT ${COLUMNS} FROM embedding_cache WHERE key = ? AND expires_at > ?`,
    ),
    put: db.prepare(
      `INSERT INTO embedding_cache (${COLUMNS}, used_at) ` +
        'VALUES (@key, @entity_id, @model, @dims, @tokens, @checksum, @expires_at, @vector, @used_at) ' +
        'ON CONFLICT (key) DO UPDATE SET entity_id = excluded.entity_id, model = excluded.model, dims = excluded.dims, ' +
        'tokens = excluded.tokens, checksum = excluded.checksum, expires_at = excluded.expires_at, ' +
        'vector = excluded.vector, used_at = excluded.used_at',
    ),
    touch: db.prepare('UPDATE embedding_cache SET used_at = ? WHERE key = ?'),
    forget: db.prepare('DELETE FROM embedding_cache WHERE key = ?'),
    statsAll: db.prepare<[], CacheUsage>(
      'SELECT entity_id, COUNT(*) AS entries, COALESCE(SUM(dims), 0) * 4 AS bytes FROM embedding_cache ' +
        'GROUP BY entity_id ORDER BY entity_id',
    ),
    statsOne: db.prepare<[string], CacheUsage>(
      'SELECT entity_id, COUNT(*) AS entries, COALESCE(SUM(dims), 0) * 4 AS bytes FROM embedding_cache ' +
        'WHERE entity_id = ? GROUP BY entity_id',
    ),
    totals: db.prepare<[], { entries: number; bytes: number }>(
      'SELECT COUNT(*) AS entries, COALESCE(SUM(dims), 0) * 4 AS bytes FROM embedding_cache',
    ),
    clearAll: db.prepare('DELETE FROM embedding_cache'),
    clearOne: db.prepare('DELETE FROM embedding_cache WHERE entity_id = ?'),
    bumpEpoch: db.prepare(
      `UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = '${CACHE_EPOCH_SETTING}'`,
    ),
    epoch: db.prepare<[], { value: string }>(`SELECT value FROM settings WHERE name = '${CACHE_EPOCH_SETTING}'`),
    expire: db.prepare(
      'DELETE FROM embedding_cache WHERE rowid IN (SELECT rowid FROM embedding_cache WHERE expires_at <= ? LIMIT ?)',
    ),
    orphans: db.prepare(
      'DELETE FROM embedding_cache WHERE rowid IN (SELECT rowid FROM embedding_cache ' +
        'WHERE entity_id NOT IN (SELECT value FROM json_each(?)) LIMIT ?)',
    ),
    evict: db.prepare(
      'DELETE FROM embedding_cache WHERE rowid IN (SELECT rowid FROM embedding_cache ORDER BY used_at LIMIT ?)',
    ),
  };

  const epochOf = () => Number(q.epoch.get()?.value ?? 0);
  const put = db.transaction((rows: CacheRow[], now: number, epoch: number) => {
    if (epochOf() !== epoch) return 0;
    const unique = lastPerKey(rows);
    for (const row of unique) q.put.run({ ...row, used_at: now });
    return unique.length;
  });
  const touch = db.transaction((keys: Buffer[], now: number) => {
    for (const key of keys) q.touch.run(now, key);
  });
  const forget = db.transaction((keys: Buffer[]) => {
    for (const key of keys) q.forget.run(key);
  });
  const clear = db.transaction((entityId?: string) => {
    const { changes } = entityId === undefined ? q.clearAll.run() : q.clearOne.run(entityId);
    q.bumpEpoch.run();
    bumpCatalogue();
    return changes;
  });

  return {
    async get(keys, now) {
      const rows: CacheRow[] = [];
      for (const key of keys) {
        const row = q.get.get(key, now);
        if (row) rows.push(row);
      }
      return rows;
    },
    async put(rows, now, epoch) {
      return rows.length ? put.immediate(rows, now, epoch) : 0;
    },
    async touch(keys, now) {
      if (keys.length) touch.immediate(keys, now);
    },
    async forget(keys) {
      if (keys.length) forget.immediate(keys);
    },
    async stats(entityId) {
      return entityId === undefined ? q.statsAll.all() : q.statsOne.all(entityId);
    },
    async clear(entityId) {
      return clear.immediate(entityId);
    },
    async epoch() {
      return epochOf();
    },
    async prune(now, bounds, liveEntities) {
      const expired =
        q.expire.run(now, PRUNE_BATCH).changes + q.orphans.run(JSON.stringify(liveEntities), PRUNE_BATCH).changes;
      const { entries, bytes } = q.totals.get()!;
      const excess = Math.min(PRUNE_BATCH, evictionCount(entries, bytes, bounds));
      return { expired, evicted: excess > 0 ? q.evict.run(excess).changes : 0 };
    },
  };
}
