/**
 * Batch jobs on PostgreSQL, shared by every replica: lines are claimed with `FOR UPDATE SKIP
 * LOCKED` (two replicas claiming at once get different lines, neither waits), results recorded
 * only by the worker that still holds the lease, counts updated in the same transaction.
 */
import type pg from 'pg';
import { allows, batchBody, patched, storedBatch, type BatchRow } from '../batch-rows.js';
import type { BatchItem, BatchStore } from '../store.js';
import { inTransaction } from './pool.js';

export function postgresBatches(pool: pg.Pool): BatchStore {
  const one = async (client: pg.Pool | pg.PoolClient, id: string, lock = false) => {
    const { rows } = await client.query<BatchRow>(`SELECT * FROM batches WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [
      id,
    ]);
    return rows[0] && storedBatch(rows[0]);
  };
  return {
    async create(batch) {
      await pool.query('INSERT INTO batches (id, owner, status, body) VALUES ($1, $2, $3, $4)', [
        batch.id,
        batch.owner,
        batch.status,
        batchBody(batch),
      ]);
    },
    async addItems(id, items) {
      await inTransaction(pool, async (client) => {
        await client.query(
          'INSERT INTO batch_items (batch_id, line, custom_id, body) SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[])',
          [id, items.map((i) => i.line), items.map((i) => i.custom_id), items.map((i) => i.body)],
        );
        await client.query('UPDATE batches SET total = total + $1 WHERE id = $2', [items.length, id]);
      });
    },
    async dropItems(id) {
      await pool.query('DELETE FROM batch_items WHERE batch_id = $1', [id]);
    },
    get: (id) => one(pool, id),
    async list(query) {
      const params: unknown[] = [query.owner];
      let cursor = '';
      if (query.after !== undefined) {
        params.push(query.after);
        cursor = ' AND seq < (SELECT seq FROM batches WHERE id = $2)';
      }
      params.push(query.limit);
      const { rows } = await pool.query<BatchRow>(
        `SELECT * FROM batches WHERE owner = $1${cursor} ORDER BY seq DESC LIMIT $${params.length}`,
        params,
      );
      return rows.map(storedBatch);
    },
    async update(id, patch, from) {
      return inTransaction(pool, async (client) => {
        const current = await one(client, id, true);
        if (!current || !allows(current, from)) return undefined;
        const next = patched(current, patch);
        await client.query('UPDATE batches SET status = $1, body = $2 WHERE id = $3', [
          next.status,
          batchBody(next),
          id,
        ]);
        return next;
      });
    },
    async claim(worker, now, leaseUntil, max) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<BatchItem & { batch_id: string }>(
          `WITH target AS (
             SELECT b.id FROM batches b WHERE b.status = 'in_progress' AND EXISTS (
               SELECT 1 FROM batch_items i WHERE i.batch_id = b.id AND i.state = 'pending' AND i.lease_until < $1
             ) ORDER BY b.seq LIMIT 1
           ), picked AS (
             SELECT i.batch_id, i.line FROM batch_items i, target
             WHERE i.batch_id = target.id AND i.state = 'pending' AND i.lease_until < $1
             ORDER BY i.line LIMIT $2 FOR UPDATE OF i SKIP LOCKED
           )
           UPDATE batch_items i SET lease_owner = $3, lease_until = $4 FROM picked
           WHERE i.batch_id = picked.batch_id AND i.line = picked.line
           RETURNING i.batch_id, i.line, i.custom_id, i.body`,
          [now, max, worker, leaseUntil],
        );
        if (rows.length === 0) return undefined;
        const batch = (await one(client, rows[0]!.batch_id))!;
        const items = rows
          .map(({ line, custom_id, body }) => ({ line: Number(line), custom_id, body }))
          .sort((a, b) => a.line - b.line);
        return { batch, items };
      });
    },
    async renew(id, worker, lines, leaseUntil) {
      await pool.query(
        "UPDATE batch_items SET lease_until = $1 WHERE batch_id = $2 AND line = ANY($3::int[]) AND lease_owner = $4 AND state = 'pending'",
        [leaseUntil, id, lines, worker],
      );
    },
    async release(id, worker, lines) {
      await pool.query(
        "UPDATE batch_items SET lease_owner = NULL, lease_until = 0 WHERE batch_id = $1 AND line = ANY($2::int[]) AND lease_owner = $3 AND state = 'pending'",
        [id, lines, worker],
      );
    },
    async complete(id, worker, results) {
      return inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ state: string }>(
          `UPDATE batch_items i SET state = r.state, result = r.result, lease_owner = NULL, lease_until = 0
           FROM unnest($3::int[], $4::text[], $5::text[]) AS r(line, state, result)
           WHERE i.batch_id = $1 AND i.line = r.line AND i.lease_owner = $2 AND i.state = 'pending'
           RETURNING r.state`,
          [id, worker, results.map((r) => r.line), results.map((r) => r.state), results.map((r) => r.result)],
        );
        const done = rows.filter((r) => r.state === 'done').length;
        await client.query('UPDATE batches SET completed = completed + $1, failed = failed + $2 WHERE id = $3', [
          done,
          rows.length - done,
          id,
        ]);
        return rows.length;
      });
    },
    async remaining(id, now) {
      const { rows } = await pool.query<{ pending: string; leased: string }>(
        "SELECT COUNT(*) AS pending, COUNT(*) FILTER (WHERE lease_until >= $1) AS leased FROM batch_items WHERE batch_id = $2 AND state = 'pending'",
        [now, id],
      );
      return { pending: Number(rows[0]!.pending), leased: Number(rows[0]!.leased) };
    },
    async settled(status, now) {
      const idle = status !== 'in_progress';
      const { rows } = await pool.query<{ id: string }>(
        `SELECT b.id FROM batches b WHERE b.status = $1 AND NOT EXISTS (SELECT 1 FROM batch_items i
         WHERE i.batch_id = b.id AND i.state = 'pending'${idle ? ' AND i.lease_until >= $2' : ''}) ORDER BY b.seq`,
        idle ? [status, now] : [status],
      );
      return rows.map((r) => r.id);
    },
    async overdue(nowS) {
      const { rows } = await pool.query<{ id: string }>(
        "SELECT id FROM batches WHERE status = 'in_progress' AND (body::json->>'expires_at')::bigint <= $1 ORDER BY seq",
        [nowS],
      );
      return rows.map((r) => r.id);
    },
    async failUnrun(id, code, message) {
      return inTransaction(pool, async (client) => {
        const { rowCount } = await client.query(
          `UPDATE batch_items SET state = 'failed', lease_owner = NULL, lease_until = 0,
             result = json_build_object('id', 'batch_req_' || substr(md5(random()::text), 1, 12), 'custom_id', custom_id,
               'response', NULL, 'error', json_build_object('code', $2::text, 'message', $3::text))::text
           WHERE batch_id = $1 AND state = 'pending'`,
          [id, code, message],
        );
        await client.query('UPDATE batches SET failed = failed + $1 WHERE id = $2', [rowCount ?? 0, id]);
        return rowCount ?? 0;
      });
    },
  };
}
