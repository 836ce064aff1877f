/**
 * Batch jobs on SQLite: a claim, a completion and a status change are each one IMMEDIATE
 * transaction, so gateways sharing the file never hold the same line nor count one twice.
 */
import type Database from 'better-sqlite3';
import { allows, batchBody, patched, storedBatch, type BatchRow } from '../batch-rows.js';
import type { BatchItem, BatchStore, StoredBatch } from '../store.js';

export function sqliteBatches(db: Database.Database): BatchStore {
  const q = {
    insert: db.prepare('INSERT INTO batches (id, owner, status, body) VALUES (?, ?, ?, ?)'),
    get: db.prepare<[string], BatchRow>('SELECT * FROM batches WHERE id = ?'),
    write: db.prepare('UPDATE batches SET status = ?, body = ? WHERE id = ?'),
    addItem: db.prepare('INSERT INTO batch_items (batch_id, line, custom_id, body) VALUES (?, ?, ?, ?)'),
    addTotal: db.prepare('UPDATE batches SET total = total + ? WHERE id = ?'),
    dropItems: db.prepare('DELETE FROM batch_items WHERE batch_id = ?'),
    pick: db.prepare<[number], { id: string }>(
      "SELECT b.id FROM batches b WHERE b.status = 'in_progress' AND EXISTS (SELECT 1 FROM batch_items i " +
        "WHERE i.batch_id = b.id AND i.state = 'pending' AND i.lease_until < ?) ORDER BY b.seq LIMIT 1",
    ),
    free: db.prepare<[string, number, number], BatchItem>(
      "SELECT line, custom_id, body FROM batch_items WHERE batch_id = ? AND state = 'pending' AND lease_until < ? " +
        'ORDER BY line LIMIT ?',
    ),
    lease: db.prepare('UPDATE batch_items SET lease_owner = ?, lease_until = ? WHERE batch_id = ? AND line = ?'),
    renew: db.prepare(
      "UPDATE batch_items SET lease_until = ? WHERE batch_id = ? AND line = ? AND lease_owner = ? AND state = 'pending'",
    ),
    release: db.prepare(
      'UPDATE batch_items SET lease_owner = NULL, lease_until = 0 WHERE batch_id = ? AND line = ? AND lease_owner = ? ' +
        "AND state = 'pending'",
    ),
    record: db.prepare(
      'UPDATE batch_items SET state = ?, result = ?, lease_owner = NULL, lease_until = 0 ' +
        "WHERE batch_id = ? AND line = ? AND lease_owner = ? AND state = 'pending'",
    ),
    count: db.prepare('UPDATE batches SET completed = completed + ?, failed = failed + ? WHERE id = ?'),
    remaining: db.prepare<[number, string], { pending: number; leased: number }>(
      'SELECT COUNT(*) AS pending, COALESCE(SUM(lease_until >= ?), 0) AS leased FROM batch_items ' +
        "WHERE batch_id = ? AND state = 'pending'",
    ),
    settledDone: db.prepare<[string], { id: string }>(
      'SELECT b.id FROM batches b WHERE b.status = ? AND NOT EXISTS (SELECT 1 FROM batch_items i ' +
        "WHERE i.batch_id = b.id AND i.state = 'pending') ORDER BY b.seq",
    ),
    settledIdle: db.prepare<[string, number], { id: string }>(
      'SELECT b.id FROM batches b WHERE b.status = ? AND NOT EXISTS (SELECT 1 FROM batch_items i ' +
        "WHERE i.batch_id = b.id AND i.state = 'pending' AND i.lease_until >= ?) ORDER BY b.seq",
    ),
    overdue: db.prepare<[number], { id: string }>(
      "SELECT id FROM batches WHERE status = 'in_progress' AND json_extract(body, '$.expires_at') <= ? ORDER BY seq",
    ),
    failUnrun: db.prepare(
      "UPDATE batch_items SET state = 'failed', lease_owner = NULL, lease_until = 0, result = json_object('id', " +
        "'batch_req_' || lower(hex(randomblob(6))), 'custom_id', custom_id, 'response', NULL, 'error', " +
        "json_object('code', ?, 'message', ?)) WHERE batch_id = ? AND state = 'pending'",
    ),
  };
  const one = (id: string) => {
    const row = q.get.get(id);
    return row && storedBatch(row);
  };
  const claim = db.transaction((worker: string, now: number, leaseUntil: number, max: number) => {
    const picked = q.pick.get(now);
    if (!picked) return undefined;
    const items = q.free.all(picked.id, now, max);
    for (const item of items) q.lease.run(worker, leaseUntil, picked.id, item.line);
    return { batch: one(picked.id)!, items };
  });
  return {
    async create(batch) {
      q.insert.run(batch.id, batch.owner, batch.status, batchBody(batch));
    },
    async addItems(id, items) {
      db.transaction(() => {
        for (const item of items) q.addItem.run(id, item.line, item.custom_id, item.body);
        q.addTotal.run(items.length, id);
      })();
    },
    async dropItems(id) {
      q.dropItems.run(id);
    },
    async get(id) {
      return one(id);
    },
    async list(query) {
      const cursor =
        query.after === undefined
          ? undefined
          : db.prepare<[string], { seq: number }>('SELECT seq FROM batches WHERE id = ?').get(query.after)?.seq;
      const rows = db
        .prepare<unknown[], BatchRow>(
          `SELECT * FROM batches WHERE owner = ?${cursor !== undefined ? ' AND seq < ?' : ''} ORDER BY seq DESC LIMIT ?`,
        )
        .all(query.owner, ...(cursor !== undefined ? [cursor] : []), query.limit);
      return rows.map(storedBatch);
    },
    async update(id, patch, from) {
      return db
        .transaction((): StoredBatch | undefined => {
          const current = one(id);
          if (!current || !allows(current, from)) return undefined;
          const next = patched(current, patch);
          q.write.run(next.status, batchBody(next), id);
          return next;
        })
        .immediate();
    },
    async claim(worker, now, leaseUntil, max) {
      return claim.immediate(worker, now, leaseUntil, max);
    },
    async renew(id, worker, lines, leaseUntil) {
      db.transaction(() => {
        for (const line of lines) q.renew.run(leaseUntil, id, line, worker);
      })();
    },
    async release(id, worker, lines) {
      db.transaction(() => {
        for (const line of lines) q.release.run(id, line, worker);
      })();
    },
    async complete(id, worker, results) {
      return db
        .transaction(() => {
          let done = 0;
          let failed = 0;
          for (const r of results) {
            if (q.record.run(r.state, r.result, id, r.line, worker).changes === 0) continue;
            if (r.state === 'done') done++;
            else failed++;
          }
          q.count.run(done, failed, id);
          return done + failed;
        })
        .immediate();
    },
    async remaining(id, now) {
      const row = q.remaining.get(now, id)!;
      return { pending: Number(row.pending), leased: Number(row.leased) };
    },
    async settled(status, now) {
      const rows = status === 'in_progress' ? q.settledDone.all(status) : q.settledIdle.all(status, now);
      return rows.map((r) => r.id);
    },
    async overdue(nowS) {
      return q.overdue.all(nowS).map((r) => r.id);
    },
    async failUnrun(id, code, message) {
      return db
        .transaction(() => {
          const failed = q.failUnrun.run(code, message, id).changes;
          q.count.run(0, failed, id);
          return failed;
        })
        .immediate();
    },
  };
}
