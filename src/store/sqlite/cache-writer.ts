/**
 * The writer thread of the SQLite embedding cache: a worker with its own connection, so that
 * writing vectors (tens of kilobytes a call) and scanning for stats and pruning never run on the
 * gateway's event loop. Messages are `{ id, op, args }`; answers `{ id, result }` or `{ id, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { cacheWriter, openCacheDatabase, type CacheWriteOp } from './cache-database.js';

const db = openCacheDatabase((workerData as { path: string }).path);
const writer = cacheWriter(db);

/** Buffers arrive as plain Uint8Arrays through structured cloning; the driver binds Buffers. */
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function revive(op: CacheWriteOp, args: unknown[]): unknown[] {
  if (op === 'put')
    return [
      (args[0] as { key: Uint8Array; vector: Uint8Array }[]).map((r) => ({
        ...r,
        key: asBuffer(r.key),
        vector: asBuffer(r.vector),
      })),
      ...args.slice(1),
    ];
  if (op === 'touch' || op === 'forget') return [(args[0] as Uint8Array[]).map(asBuffer), ...args.slice(1)];
  return args;
}

parentPort!.on('message', (message: { id: number; op: CacheWriteOp | 'close'; args: unknown[] }) => {
  if (message.op === 'close') {
    db.close();
    parentPort!.postMessage({ id: message.id, result: null });
    parentPort!.close();
    return;
  }
  try {
    const run = writer[message.op] as (...args: unknown[]) => unknown;
    parentPort!.postMessage({ id: message.id, result: run(...revive(message.op, message.args)) });
  } catch (error) {
    parentPort!.postMessage({ id: message.id, error: (error as Error).message });
  }
});
