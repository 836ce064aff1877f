/** What both engines' embedding caches share: the entry checksum and how many entries to evict. */
import { crc32 } from 'node:zlib';
import type { CacheBounds, CacheRow } from './store.js';

export const CACHE_EPOCH_SETTING = 'cache_epoch';

/** Rows one prune round deletes at most per kind: a round never holds the store for long; the next goes on. */
export const PRUNE_BATCH = 10_000;

/** CRC-32 of the model name and the vector bytes: a torn or altered row does not match it. */
export function cacheChecksum(model: string, vector: Buffer): number {
  return crc32(vector, crc32(model));
}

/** True when the row is exactly what was written: the length its dimensions say, and its checksum. */
export function isIntact(row: CacheRow): boolean {
  return (
    Buffer.isBuffer(row.vector) &&
    row.dims > 0 &&
    row.vector.length === row.dims * 4 &&
    cacheChecksum(row.model, row.vector) === Number(row.checksum)
  );
}

/** Entries to drop, least recently used first, to be back within both bounds. */
export function evictionCount(entries: number, bytes: number, bounds: CacheBounds): number {
  const overEntries = entries - bounds.maxEntries;
  const average = entries === 0 ? 0 : bytes / entries;
  const overBytes = bytes > bounds.maxBytes && average > 0 ? Math.ceil((bytes - bounds.maxBytes) / average) : 0;
  return Math.min(entries, Math.max(0, overEntries, overBytes));
}

/** The totals after evicting `evicted` of `entries` (average-sized: the eviction is by age, not size). */
export function afterEviction(entries: number, bytes: number, evicted: number): { entries: number; bytes: number } {
  return {
    entries: entries - evicted,
    bytes: entries === 0 ? 0 : Math.round(bytes * ((entries - evicted) / entries)),
  };
}

/** One row per key, the last given winning: a statement may not write the same key twice. */
export function lastPerKey(rows: CacheRow[]): CacheRow[] {
  const byKey = new Map<string, CacheRow>();
  for (const row of rows) byKey.set(row.key.toString('hex'), row);
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
}
