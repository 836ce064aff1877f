/**
 * The SQLite embedding cache's own file beside the catalogue (`embedding-cache.db`): vectors are
 * the bulk of what a gateway writes, so they get a file whose write lock and checkpoints never hold
 * up request logs or usage counters. Its statements are shared by the gateway's thread (point
 * lookups) and the writer thread (`cache-writer.ts`) that does everything else.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEviction, evictionCount, lastPerKey, PRUNE_BATCH } from '../cache-rows.js';
import type { CacheBounds, CacheRow, CacheUsage } from '../store.js';

export const CACHE_FILE = 'embedding-cache.db';

const MIGRATIONS: readonly string[] = [
  // 1: small columns first: the vector lives in pages a lookup reads only for the rows it returns.
  `
  CREATE TABLE embedding_cache (
    key BLOB NOT NULL UNIQUE,
    entity_id TEXT NOT NULL,
    model TEXT NOT NULL,
    dims INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    checksum INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER NOT NULL,
    vector BLOB NOT NULL
  );
  CREATE INDEX embedding_cache_entity ON embedding_cache (entity_id, dims);
  CREATE INDEX embedding_cache_expires ON embedding_cache (expires_at);
  CREATE INDEX embedding_cache_used ON embedding_cache (used_at);
  CREATE TABLE cache_epoch (epoch INTEGER NOT NULL);
  INSERT INTO cache_epoch (epoch) VALUES (0);
  `,
];

const COLUMNS = 'key, entity_id, model, dims, tokens, checksum, expires_at, vector';

export function cachePath(dataDir: string): string {
  return join(dataDir, CACHE_FILE);
}

export function openCacheDatabase(path: string): Database.Database {
  const db = new Database(path);
  // 8 KiB pages: a 1536-dimension vector (6 KiB) and its row fit one page, with no overflow chain.
  if (db.pragma('user_version', { simple: true }) === 0) db.pragma('page_size = 8192');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length)
      throw new Error(
        `the embedding cache at ${path} has schema version ${current}, newer than this embctl knows; upgrade embctl`,
      );
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
  return db;
}

/** What the gateway's thread does itself: lookups by key, and the epoch. Both are index reads. */
export function cacheReader(db: Database.Database) {
  const get = db.prepare<[Buffer, number], CacheRow>(
    `SELECT ${COLUMNS} FROM embedding_cache WHERE key = ? AND expires_at > ?`,
  );
  const epoch = db.prepare<[], { epoch: number }>('SELECT epoch FROM cache_epoch');
  const any = db.prepare<[], { one: number }>('SELECT 1 AS one FROM embedding_cache LIMIT 1');
  return {
    /** True when nothing is cached: one index step. */
    empty: () => any.get() === undefined,
    get(keys: Buffer[], now: number): CacheRow[] {
      const rows: CacheRow[] = [];
      for (const key of keys) {
        const row = get.get(key, now);
        if (row) rows.push(row);
      }
      return rows;
    },
    epoch: () => epoch.get()?.epoch ?? 0,
  };
}

/** Everything that writes or scans, run on the writer thread. */
export function cacheWriter(db: Database.Database) {
  const reader = cacheReader(db);
  const q = {
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
    bumpEpoch: db.prepare('UPDATE cache_epoch SET epoch = epoch + 1'),
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
  return {
    put: db.transaction((rows: CacheRow[], now: number, epoch: number) => {
      if (reader.epoch() !== epoch) return 0;
      const unique = lastPerKey(rows);
      for (const row of unique) q.put.run({ ...row, used_at: now });
      return unique.length;
    }).immediate,
    touch: db.transaction((keys: Buffer[], now: number) => {
      for (const key of keys) q.touch.run(now, key);
    }).immediate,
    forget: db.transaction((keys: Buffer[]) => {
      for (const key of keys) q.forget.run(key);
    }).immediate,
    stats: (entityId?: string) => (entityId === undefined ? q.statsAll.all() : q.statsOne.all(entityId)),
    clear: db.transaction((entityId?: string) => {
      const { changes } = entityId === undefined ? q.clearAll.run() : q.clearOne.run(entityId);
      q.bumpEpoch.run();
      return changes;
    }).immediate,
    prune(now: number, bounds: CacheBounds, liveEntities: string[]) {
      const expired =
        q.expire.run(now, PRUNE_BATCH).changes + q.orphans.run(JSON.stringify(liveEntities), PRUNE_BATCH).changes;
      const { entries, bytes } = q.totals.get()!;
      const excess = Math.min(PRUNE_BATCH, evictionCount(entries, bytes, bounds));
      const evicted = excess > 0 ? q.evict.run(excess).changes : 0;
      return { expired, evicted, ...afterEviction(entries, bytes, evicted) };
    },
  };
}

export type CacheWriter = ReturnType<typeof cacheWriter>;
export type CacheWriteOp = keyof CacheWriter;
