/** The connection pool, its type parsing, transactions, and the advisory locks the store takes. */
import pg from 'pg';

/** Advisory lock keys (arbitrary, fixed): schema migration, first start, request-log appends, a key's usage. */
export const MIGRATE_LOCK = 0x656d6201;
export const BOOTSTRAP_LOCK = 0x656d6202;
export const APPEND_LOCK = 0x656d6203;
/** The class of the two-part lock (class, hashtext(key id)) taken around a key's usage counters. */
export const USAGE_LOCK = 0x656d6204;

const INT8 = 20;

/** BIGINT as a JS number (seq, epoch milliseconds: far below 2^53), without touching pg's global parsers. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export function createPool(url: string, onError: (message: string) => void, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    types,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  });
  // An idle connection dropped by the server (a restart, a failover) must not crash the process.
  pool.on('error', (error) => onError(`PostgreSQL connection lost: ${error.message}`));
  return pool;
}

export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection the server drops between two statements emits 'error' on the checked-out client;
  // unheard, that would end the process. Heard, the transaction fails and the client is discarded.
  let lost: Error | undefined;
  const onLost = (error: Error) => {
    lost = error;
  };
  client.on('error', onLost);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!lost) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onLost);
    client.release(lost);
  }
}
