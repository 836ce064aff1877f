/**
 * The embedding cache in PostgreSQL, shared by every replica: lookups by `key = ANY(…)`, writes as
 * one upsert of arrays in key order (two replicas writing overlapping batches lock rows in the same
 * order, so they cannot deadlock).
 */
import type pg from 'pg';
import { afterEviction, CACHE_EPOCH_SETTING, evictionCount, lastPerKey, PRUNE_BATCH } from '../cache-rows.js';
import type { CacheRow, CacheUsage, EmbeddingCacheStore } from '../store.js';
import { inTransaction } from './pool.js';

const COLUMNS = 'key, entity_id, model, dims, tokens, checksum, expires_at, vector';
const STATS =
  'SELECT entity_id, CAST(COUNT(*) AS INTEGER) AS entries, CAST(COALESCE(SUM(dims), 0) * 4 AS BIGINT) AS bytes ' +
  'FROM embedding_cache';

export function postgresEmbeddingCache(pool: pg.Pool, bumpCatalogue: string): EmbeddingCacheStore {
  const deleteBatch = async (where: string, values: unknown[]) =>
    (
      await pool.query(
        `DELETE FROM embedding_cache WHERE key IN (SELECT key FROM embedding_cache WHERE ${where} LIMIT ${PRUNE_BATCH})`,
        values,
      )
    ).rowCount ?? 0;

  return {
    async get(keys, now) {
      if (keys.length === 0) return [];
      const result = await pool.query<CacheRow>(
        `SELECT ${COLUMNS} FROM embedding_cache WHERE key = ANY($1::bytea[]) AND expires_at > $2`,
        [keys, now],
      );
      return result.rows;
    },
    async put(rows, now, epoch) {
      if (rows.length === 0) return 0;
      const sorted = lastPerKey(rows);
      const column = <K extends keyof CacheRow>(name: K) => sorted.map((row) => row[name]);
      return inTransaction(pool, async (client) => {
        // FOR SHARE against the clear's FOR UPDATE: a clear waits for this write, or this write sees its epoch.
        const current = await client.query<{ value: string }>(
          `SELECT value FROM settings WHERE name = '${CACHE_EPOCH_SETTING}' FOR SHARE`,
        );
        if (Number(current.rows[0]?.value ?? 0) !== epoch) return 0;
        await client.query(
          `INSERT INTO embedding_cache (${COLUMNS}, used_at) ` +
            'SELECT k, e, m, d, t, c, x, v, $9 FROM unnest($1::bytea[], $2::text[], $3::text[], $4::int[], ' +
            '$5::int[], $6::bigint[], $7::bigint[], $8::bytea[]) AS u(k, e, m, d, t, c, x, v) ' +
            'ON CONFLICT (key) DO UPDATE SET entity_id = excluded.entity_id, model = excluded.model, ' +
            'dims = excluded.dims, tokens = excluded.tokens, checksum = excluded.checksum, ' +
            'expires_at = excluded.expires_at, vector = excluded.vector, used_at = excluded.used_at',
          [
            column('key'),
            column('entity_id'),
            column('model'),
            column('dims'),
            column('tokens'),
            column('checksum'),
            column('expires_at'),
            column('vector'),
            now,
          ],
        );
        return sorted.length;
      });
    },
    async touch(keys, now) {
      if (keys.length === 0) return;
      await pool.query('UPDATE embedding_cache SET used_at = $2 WHERE key = ANY($1::bytea[])', [keys, now]);
    },
    async forget(keys) {
      if (keys.length === 0) return;
      await pool.query('DELETE FROM embedding_cache WHERE key = ANY($1::bytea[])', [keys]);
    },
    async stats(entityId) {
      const where = entityId === undefined ? '' : ' WHERE entity_id = $1';
      const result = await pool.query<CacheUsage>(
        `${STATS}${where} GROUP BY entity_id ORDER BY entity_id`,
        entityId === undefined ? [] : [entityId],
      );
      return result.rows;
    },
    async clear(entityId) {
      return inTransaction(pool, async (client) => {
        await client.query(`SELECT value FROM settings WHERE name = '${CACHE_EPOCH_SETTING}' FOR UPDATE`);
        const deleted =
          entityId === undefined
            ? await client.query('DELETE FROM embedding_cache')
            : await client.query('DELETE FROM embedding_cache WHERE entity_id = $1', [entityId]);
        await client.query(
          `UPDATE settings SET value = (value::bigint + 1)::text WHERE name = '${CACHE_EPOCH_SETTING}'`,
        );
        await client.query(bumpCatalogue);
        return deleted.rowCount ?? 0;
      });
    },
    async epoch() {
      const result = await pool.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [
        CACHE_EPOCH_SETTING,
      ]);
      return Number(result.rows[0]?.value ?? 0);
    },
    async prune(now, bounds, liveEntities) {
      const expired =
        (await deleteBatch('expires_at <= $1', [now])) +
        (await deleteBatch('NOT (entity_id = ANY($1::text[]))', [liveEntities]));
      const totals = await pool.query<{ entries: number; bytes: number }>(
        'SELECT CAST(COUNT(*) AS INTEGER) AS entries, CAST(COALESCE(SUM(dims), 0) * 4 AS BIGINT) AS bytes ' +
          'FROM embedding_cache',
      );
      const { entries, bytes } = totals.rows[0]!;
      const excess = Math.min(PRUNE_BATCH, evictionCount(entries, bytes, bounds));
      const evicted =
        excess === 0
          ? 0
          : ((
              await pool.query(
                'DELETE FROM embedding_cache WHERE key IN (SELECT key FROM embedding_cache ORDER BY used_at LIMIT $1)',
                [excess],
              )
            ).rowCount ?? 0);
      return { expired, evicted, ...afterEviction(entries, bytes, evicted) };
    },
  };
}
