/** The batches table's rows as both engines hold them: status and counts in columns, the rest JSON. */
import type { BatchGuard, BatchPatch, BatchStatus, StoredBatch } from './store.js';

export interface BatchRow {
  id: string;
  owner: string;
  status: string;
  body: string;
  total: number | string;
  completed: number | string;
  failed: number | string;
}

type BatchBody = Omit<StoredBatch, 'id' | 'owner' | 'status' | 'request_counts'>;

export function batchBody(batch: StoredBatch): string {
  const { id, owner, status, request_counts, ...body } = batch;
  return JSON.stringify(body satisfies BatchBody);
}

export function storedBatch(row: BatchRow): StoredBatch {
  const body = JSON.parse(row.body) as BatchBody;
  return {
    id: row.id,
    owner: row.owner,
    status: row.status as StoredBatch['status'],
    ...body,
    request_counts: { total: Number(row.total), completed: Number(row.completed), failed: Number(row.failed) },
  };
}

/** The batch with a patch applied (times merged): what an update writes back. */
export function patched(batch: StoredBatch, patch: BatchPatch): StoredBatch {
  return { ...batch, ...patch, times: { ...batch.times, ...patch.times } };
}

/** Whether an update guarded by `from` may apply to `batch`. */
export function allows(batch: StoredBatch, from: BatchStatus[] | BatchGuard | undefined): boolean {
  if (!from) return true;
  const guard = Array.isArray(from) ? { status: from } : from;
  if (!guard.status.includes(batch.status)) return false;
  if (!guard.unset) return true;
  const at = batch.times[guard.unset.time];
  return at === undefined || at < guard.unset.staleBefore;
}
