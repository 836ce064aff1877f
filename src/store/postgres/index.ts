/**
 * The PostgreSQL engine, for several gateways sharing one database: the same tables and rules as
 * SQLite's (versions, sticky revocation, one-transaction first start), with row locks and advisory
 * locks where SQLite had one writer at a time.
 */
import type pg from 'pg';
import type { ApiKeyRecord } from '../../core/api-key.js';
import type { EmbeddingModelEntity } from '../../core/entity.js';
import { type EntityRow, type KeyRow, storedEntity as stored, storedKey } from '../rows.js';
import { ADMIN_TOKEN_SETTING, INSTANCE_KEEP_MS, keepRevocation, keyBody } from '../keys.js';
import {
  StoreConflict,
  type ApiKeyStore,
  type EntityStore,
  type SettingsStore,
  type InstanceBeat,
  type Store,
} from '../store.js';
import { PG_MIGRATIONS } from './migrations.js';
import { BOOTSTRAP_LOCK, createPool, inTransaction, MIGRATE_LOCK } from './pool.js';
import { redactedUrl } from './url.js';
import { postgresRequestLogs } from './request-logs.js';
import { postgresUsageCounters } from './usage-counters.js';
import { postgresFiles } from './files.js';
import { postgresBatches } from './batches.js';
import { postgresEmbeddingCache } from './embedding-cache.js';

const BUMP_CATALOGUE = "UPDATE settings SET value = (value::bigint + 1)::text WHERE name = 'catalogue_version'";

async function migrate(pool: pg.Pool, location: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS embctl_schema (version INTEGER NOT NULL)');
    const current =
      (await client.query<{ version: number }>('SELECT version FROM embctl_schema')).rows[0]?.version ?? 0;
    if (current > PG_MIGRATIONS.length) {
      throw new Error(
        `the store at ${location} has schema version ${current}, newer than this embctl knows ` +
          `(${PG_MIGRATIONS.length}); upgrade embctl`,
      );
    }
    for (let version = current; version < PG_MIGRATIONS.length; version++) await client.query(PG_MIGRATIONS[version]!);
    await client.query('DELETE FROM embctl_schema');
    await client.query('INSERT INTO embctl_schema (version) VALUES ($1)', [PG_MIGRATIONS.length]);
  });
}

export async function openPostgresStore(url: string, onError: (message: string) => void): Promise<Store> {
  const location = redactedUrl(url);
  const pool = createPool(url, onError);
  try {
    await migrate(pool, location);
  } catch (error) {
    await pool.end();
    throw error;
  }

  const entityRow = async (client: pg.Pool | pg.PoolClient, id: string, lock = false) =>
    (await client.query<EntityRow>(`SELECT * FROM entities WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];

  /** Checks the expected version under a row lock and runs the write in the same transaction. */
  const guardedWrite = (id: string, expectedVersion: number | undefined, write: (c: pg.PoolClient) => Promise<void>) =>
    inTransaction(pool, async (client) => {
      const row = await entityRow(client, id, true);
      if (!row) throw new StoreConflict('missing', id);
      if (expectedVersion !== undefined && row.version !== expectedVersion)
        throw new StoreConflict('stale', id, row.version);
      await write(client);
      await client.query(BUMP_CATALOGUE);
    });

  const insertEntity = async (client: pg.PoolClient, entity: EmbeddingModelEntity) => {
    const now = new Date().toISOString();
    const inserted = await client.query(
      'INSERT INTO entities (id, body, version, created_at, updated_at) VALUES ($1, $2, 1, $3, $3) ' +
        'ON CONFLICT (id) DO NOTHING',
      [entity.id, JSON.stringify(entity), now],
    );
    return inserted.rowCount === 1;
  };

  const entities: EntityStore = {
    async list() {
      return (await pool.query<EntityRow>('SELECT * FROM entities ORDER BY id')).rows.map(stored);
    },
    async get(id) {
      const row = await entityRow(pool, id);
      return row && stored(row);
    },
    async create(entity) {
      await inTransaction(pool, async (client) => {
        if (!(await insertEntity(client, entity))) throw new StoreConflict('exists', entity.id);
        await client.query(BUMP_CATALOGUE);
      });
      return stored((await entityRow(pool, entity.id))!);
    },
    async replace(id, entity, expectedVersion) {
      await guardedWrite(id, expectedVersion, async (client) => {
        await client.query('UPDATE entities SET body = $1, version = version + 1, updated_at = $2 WHERE id = $3', [
          JSON.stringify({ ...entity, id }),
          new Date().toISOString(),
          id,
        ]);
      });
      return stored((await entityRow(pool, id))!);
    },
    async delete(id, expectedVersion) {
      await guardedWrite(id, expectedVersion, async (client) => {
        await client.query('DELETE FROM entities WHERE id = $1', [id]);
      });
    },
  };

  const keyRow = async (client: pg.Pool | pg.PoolClient, id: string, lock = false) =>
    (await client.query<KeyRow>(`SELECT body, version FROM api_keys WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]))
      .rows[0];

  const insertKey = async (client: pg.PoolClient, record: ApiKeyRecord) => {
    const inserted = await client.query(
      'INSERT INTO api_keys (id, hash, body, version) VALUES ($1, $2, $3, 1) ON CONFLICT (id) DO NOTHING',
      [record.id, record.hash, JSON.stringify(keyBody(record))],
    );
    if (inserted.rowCount !== 1) throw new StoreConflict('exists', record.id);
    await client.query(BUMP_CATALOGUE);
  };

  const apiKeys: ApiKeyStore = {
    async list() {
      return (await pool.query<KeyRow>('SELECT body, version FROM api_keys ORDER BY id')).rows.map(storedKey);
    },
    async get(id) {
      const row = await keyRow(pool, id);
      return row && storedKey(row);
    },
    async create(record) {
      await inTransaction(pool, (client) => insertKey(client, record));
      return storedKey((await keyRow(pool, record.id))!);
    },
    async replace(record, expectedVersion) {
      await inTransaction(pool, async (client) => {
        const row = await keyRow(client, record.id, true);
        if (!row) throw new StoreConflict('missing', record.id);
        if (expectedVersion !== undefined && row.version !== expectedVersion)
          throw new StoreConflict('stale', record.id, row.version);
        const next = keepRevocation(record, storedKey(row));
        await client.query('UPDATE api_keys SET hash = $1, body = $2, version = version + 1 WHERE id = $3', [
          next.hash,
          JSON.stringify(keyBody(next)),
          record.id,
        ]);
        await client.query(BUMP_CATALOGUE);
      });
      return storedKey((await keyRow(pool, record.id))!);
    },
    async delete(id) {
      await inTransaction(pool, async (client) => {
        if ((await client.query('DELETE FROM api_keys WHERE id = $1', [id])).rowCount === 0)
          throw new StoreConflict('missing', id);
        await client.query(BUMP_CATALOGUE);
      });
    },
  };

  const getSetting = async (client: pg.Pool | pg.PoolClient, name: string) =>
    (await client.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [name])).rows[0]?.value;
  const setSetting = (client: pg.Pool | pg.PoolClient, name: string, value: string) =>
    client.query(
      'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      [name, value],
    );

  const settings: SettingsStore = {
    get: (name) => getSetting(pool, name),
    async set(name, value) {
      await setSetting(pool, name, value);
    },
  };

  return {
    kind: 'postgres',
    location,
    entities,
    apiKeys,
    settings,
    logs: postgresRequestLogs(pool),
    usage: postgresUsageCounters(pool),
    cache: postgresEmbeddingCache(pool, BUMP_CATALOGUE),
    files: postgresFiles(pool),
    batches: postgresBatches(pool),
    schemaVersion: PG_MIGRATIONS.length,
    instances: {
      async beat(b) {
        await pool.query(
          'INSERT INTO gateway_instances (instance, version, pid, started_at, seen_at) VALUES ($1, $2, $3, $4, $5) ' +
            'ON CONFLICT (instance) DO UPDATE SET version = excluded.version, pid = excluded.pid, ' +
            'started_at = excluded.started_at, seen_at = excluded.seen_at',
          [b.instance, b.version, b.pid, b.started_at, b.seen_at],
        );
      },
      async recent(since) {
        await pool.query('DELETE FROM gateway_instances WHERE seen_at < $1', [since - INSTANCE_KEEP_MS]);
        return (
          await pool.query<InstanceBeat>('SELECT * FROM gateway_instances WHERE seen_at >= $1 ORDER BY seen_at DESC', [
            since,
          ])
        ).rows;
      },
    },
    async catalogueVersion() {
      return Number((await getSetting(pool, 'catalogue_version')) ?? 0);
    },
    async bootstrap(seed) {
      return inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
        if (await getSetting(client, ADMIN_TOKEN_SETTING)) return false;
        await insertEntity(client, seed.entity);
        await insertKey(client, seed.apiKey);
        await setSetting(client, ADMIN_TOKEN_SETTING, seed.adminTokenHash);
        return true;
      });
    },
    async close() {
      if (pool.ended) return;
      await pool.end();
    },
  };
}
