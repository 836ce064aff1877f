/** The embedded default store: one SQLite file in the data dir, WAL mode, safe to share between processes. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiKeyRecord } from '../../core/api-key.js';
import type { EmbeddingModelEntity } from '../../core/entity.js';
import { type EntityRow, type KeyRow, storedEntity as stored, storedKey } from '../rows.js';
import {
  StoreConflict,
  type ApiKeyStore,
  type EntityStore,
  type SettingsStore,
  type InstanceBeat,
  type Store,
} from '../store.js';
import { ADMIN_TOKEN_SETTING, INSTANCE_KEEP_MS, keepRevocation, keyBody } from '../keys.js';
import { MIGRATIONS } from './migrations.js';
import { sqliteRequestLogs } from './request-logs.js';
import { sqliteUsageCounters } from './usage-counters.js';
import { openSqliteEmbeddingCache } from './embedding-cache.js';
import { sqliteFiles } from './files.js';
import { sqliteBatches } from './batches.js';

export const SQLITE_FILE = 'embctl.db';

function migrate(db: Database.Database): void {
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `the store at ${db.name} has schema version ${current}, newer than this embctl knows ` +
          `(${MIGRATIONS.length}); upgrade embctl`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }
  }).immediate();
}

/** The SQLite engine; credentials arrive sealed (see `sealed.ts`) and are stored as given. */
export function openSqliteStore(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SQLITE_FILE);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash; only an OS crash can lose the last ones.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  const body = (entity: EmbeddingModelEntity) => JSON.stringify(entity);

  const bumpCatalogue = db.prepare(
    "UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = 'catalogue_version'",
  );
  const cache = openSqliteEmbeddingCache(dataDir, () => bumpCatalogue.run());
  const q = {
    listEntities: db.prepare<[], EntityRow>('SELECT * FROM entities ORDER BY id'),
    getEntity: db.prepare<[string], EntityRow>('SELECT * FROM entities WHERE id = ?'),
    insertEntity: db.prepare('INSERT INTO entities (id, body, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)'),
    updateEntity: db.prepare('UPDATE entities SET body = ?, version = version + 1, updated_at = ? WHERE id = ?'),
    deleteEntity: db.prepare('DELETE FROM entities WHERE id = ?'),
    listKeys: db.prepare<[], KeyRow>('SELECT body, version FROM api_keys ORDER BY id'),
    getKey: db.prepare<[string], KeyRow>('SELECT body, version FROM api_keys WHERE id = ?'),
    insertKey: db.prepare('INSERT INTO api_keys (id, hash, body, version) VALUES (?, ?, ?, 1)'),
    updateKey: db.prepare('UPDATE api_keys SET hash = ?, body = ?, version = version + 1 WHERE id = ?'),
    deleteKey: db.prepare('DELETE FROM api_keys WHERE id = ?'),
    getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?'),
    beat: db.prepare(
      'INSERT INTO gateway_instances (instance, version, pid, started_at, seen_at) ' +
        'VALUES (@instance, @version, @pid, @started_at, @seen_at) ON CONFLICT (instance) DO UPDATE SET ' +
        'version = excluded.version, pid = excluded.pid, started_at = excluded.started_at, seen_at = excluded.seen_at',
    ),
    forgetInstances: db.prepare('DELETE FROM gateway_instances WHERE seen_at < ?'),
    recentInstances: db.prepare<[number], InstanceBeat>(
      'SELECT * FROM gateway_instances WHERE seen_at >= ? ORDER BY seen_at DESC',
    ),
    setSetting: db.prepare(
      'INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value',
    ),
  };

  /** Checks the expected version and runs the write in one immediate transaction: no lost update between replicas. */
  const guardedWrite = db.transaction((id: string, expectedVersion: number | undefined, write: () => void) => {
    const row = q.getEntity.get(id);
    if (!row) throw new StoreConflict('missing', id);
    if (expectedVersion !== undefined && row.version !== expectedVersion)
      throw new StoreConflict('stale', id, row.version);
    write();
    bumpCatalogue.run();
  });

  const entities: EntityStore = {
    async list() {
      return q.listEntities.all().map(stored);
    },
    async get(id) {
      const row = q.getEntity.get(id);
      return row ? stored(row) : undefined;
    },
    async create(entity) {
      const now = new Date().toISOString();
      db.transaction(() => {
        if (q.getEntity.get(entity.id)) throw new StoreConflict('exists', entity.id);
        q.insertEntity.run(entity.id, body(entity), now, now);
        bumpCatalogue.run();
      }).immediate();
      return stored(q.getEntity.get(entity.id)!);
    },
    async replace(id, entity, expectedVersion) {
      guardedWrite.immediate(id, expectedVersion, () =>
        q.updateEntity.run(body({ ...entity, id }), new Date().toISOString(), id),
      );
      return stored(q.getEntity.get(id)!);
    },
    async delete(id, expectedVersion) {
      guardedWrite.immediate(id, expectedVersion, () => q.deleteEntity.run(id));
    },
  };

  const insertKey = (record: ApiKeyRecord) => {
    if (q.getKey.get(record.id)) throw new StoreConflict('exists', record.id);
    q.insertKey.run(record.id, record.hash, JSON.stringify(keyBody(record)));
    bumpCatalogue.run();
  };

  const apiKeys: ApiKeyStore = {
    async list() {
      return q.listKeys.all().map(storedKey);
    },
    async get(id) {
      const row = q.getKey.get(id);
      return row ? storedKey(row) : undefined;
    },
    async create(record) {
      db.transaction(insertKey).immediate(record);
      return storedKey(q.getKey.get(record.id)!);
    },
    async replace(record, expectedVersion) {
      db.transaction(() => {
        const row = q.getKey.get(record.id);
        if (!row) throw new StoreConflict('missing', record.id);
        if (expectedVersion !== undefined && row.version !== expectedVersion)
          throw new StoreConflict('stale', record.id, row.version);
        const next = keepRevocation(record, storedKey(row));
        q.updateKey.run(next.hash, JSON.stringify(keyBody(next)), record.id);
        bumpCatalogue.run();
      }).immediate();
      return storedKey(q.getKey.get(record.id)!);
    },
    async delete(id) {
      db.transaction(() => {
        if (q.deleteKey.run(id).changes === 0) throw new StoreConflict('missing', id);
        bumpCatalogue.run();
      })();
    },
  };

  const settings: SettingsStore = {
    async get(name) {
      return q.getSetting.get(name)?.value;
    },
    async set(name, value) {
      q.setSetting.run(name, value);
    },
  };

  return {
    kind: 'sqlite',
    location: path,
    entities,
    apiKeys,
    settings,
    logs: sqliteRequestLogs(db),
    usage: sqliteUsageCounters(db),
    cache,
    files: sqliteFiles(db),
    batches: sqliteBatches(db),
    schemaVersion: MIGRATIONS.length,
    instances: {
      async beat(beat) {
        q.beat.run(beat);
      },
      async recent(since) {
        q.forgetInstances.run(since - INSTANCE_KEEP_MS);
        return q.recentInstances.all(since);
      },
    },
    async catalogueVersion() {
      return Number(q.getSetting.get('catalogue_version')?.value ?? 0);
    },
    async bootstrap(seed) {
      return db
        .transaction(() => {
          if (q.getSetting.get(ADMIN_TOKEN_SETTING)) return false;
          if (!q.getEntity.get(seed.entity.id)) {
            const now = new Date().toISOString();
            q.insertEntity.run(seed.entity.id, body(seed.entity), now, now);
          }
          insertKey(seed.apiKey);
          q.setSetting.run(ADMIN_TOKEN_SETTING, seed.adminTokenHash);
          return true;
        })
        .immediate();
    },
    async close() {
      await cache.close();
      if (db.open) db.close();
    },
  };
}
