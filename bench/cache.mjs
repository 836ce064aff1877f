// The embedding cache under load, side by side in one run: the 16 × 1536 base64 workload with 0 %,
// 50 % and 100 % of its inputs repeated, straight at the fake upstream, through an entity without
// the cache, and through one with it; req/s and the inputs that reached the upstream per request.
// Then the store's size per cached 1536-dimension vector (SQLite file, PostgreSQL relation).
// Run by bench/gateway.mjs (`npm run bench:gateway`), or alone: node bench/cache.mjs [--duration 6]
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, arg, gatewayOverFakeUpstream, machine, printTable } from './lib.mjs';

const DIMS = 1536;
const BATCH = 16;
const sentence = (tag, i) => `Sentence ${tag}-${i} says something short about topic ${i % 17}.`;

/** A body per request: `repeated` of the 16 inputs come from a fixed set, the rest are new each time. */
function bodies(model, repeated) {
  let n = 0;
  const run = randomBytes(4).toString('hex');
  return () => {
    const id = n++;
    const input = Array.from({ length: BATCH }, (_, i) =>
      i < repeated ? sentence('fixed', i) : sentence(`${run}-${id}`, i),
    );
    return JSON.stringify({ model, input, encoding_format: 'base64' });
  };
}

async function upstreamInputs(upstream) {
  return (await (await fetch(`${upstream.url}/stats`)).json()).inputs;
}

export async function cacheBench({ duration = 6, connections = 32 } = {}) {
  const setup = await gatewayOverFakeUpstream(DIMS, 'bench');
  try {
    const created = await fetch(`${setup.gateway.url}/v1/embedding-models`, {
      method: 'POST',
      headers: { authorization: `Bearer ${setup.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'bench-cached',
        provider: 'openai-compatible',
        config: { connection: { base_url: `${setup.upstream.url}/v1` }, options: { model: 'bench-v1' } },
        dimensions: DIMS,
        cache: {},
      }),
    });
    if (created.status !== 201) throw new Error(`creating the cached entity failed: ${await created.text()}`);
    const targets = {
      direct: { url: `${setup.upstream.url}/v1/embeddings`, model: 'bench-v1', key: 'bench' },
      'gateway, no cache': { url: `${setup.gateway.url}/v1/embeddings`, model: 'bench', key: setup.apiKey },
      'gateway, cache': { url: `${setup.gateway.url}/v1/embeddings`, model: 'bench-cached', key: setup.apiKey },
    };
    const rows = [];
    const workloads = [];
    for (const share of [0, 0.5, 1]) {
      const repeated = Math.round(BATCH * share);
      const measured = {};
      for (const [who, target] of Object.entries(targets)) {
        const next = bodies(target.model, repeated);
        // Warm the repeated set into the cache (and every target alike): one request.
        await fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${target.key}` },
          body: next(),
        });
        const before = await upstreamInputs(setup.upstream);
        const result = await autocannon({
          url: target.url,
          method: 'POST',
          connections,
          duration,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${target.key}` },
          requests: [{ setupRequest: (request) => ({ ...request, body: next() }) }],
        });
        if (result.non2xx || result.errors)
          throw new Error(`${who}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        const sent = (await upstreamInputs(setup.upstream)) - before;
        measured[who] = { rps: result.requests.average, upstream_inputs_per_request: sent / result.requests.total };
      }
      const cached = measured['gateway, cache'];
      workloads.push({
        repeated_share: share,
        ...measured,
        cache_vs_direct: cached.rps / measured.direct.rps,
        cache_vs_no_cache: cached.rps / measured['gateway, no cache'].rps,
      });
      for (const [who, m] of Object.entries(measured))
        rows.push({
          repeated: who === 'direct' ? `${share * 100} %` : '',
          target: who,
          'req/s': Math.round(m.rps),
          'upstream inputs/req': m.upstream_inputs_per_request.toFixed(1),
          'vs direct': (m.rps / measured.direct.rps).toFixed(2),
          'vs no cache': who === 'gateway, cache' ? (m.rps / measured['gateway, no cache'].rps).toFixed(2) : '',
        });
    }
    return { workloads, rows, storage: await storageBench() };
  } finally {
    await setup.close();
  }
}

/** Bytes per cached vector in each store, from a batch written the way the gateway writes them. */
async function storageBench(entries = 20_000) {
  const { openStore } = await import(join(ROOT, 'dist/store/open.js'));
  const { cacheChecksum } = await import(join(ROOT, 'dist/store/cache-rows.js'));
  const rowsOf = (n) =>
    Array.from({ length: n }, () => {
      const vector = Buffer.from(new Float32Array(DIMS).map(() => Math.random() - 0.5).buffer);
      return {
        key: Buffer.from(randomBytes(32)),
        entity_id: 'bench-cached',
        model: 'bench-v1',
        dims: DIMS,
        vector,
        tokens: 12,
        checksum: cacheChecksum('bench-v1', vector),
        expires_at: Date.now() + 86_400_000,
      };
    });
  const fill = async (store) => {
    const epoch = await store.cache.epoch();
    for (let i = 0; i < entries; i += 500) await store.cache.put(rowsOf(500), Date.now(), epoch);
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'embctl-cache-size-'));
  const sqlite = await openStore({ dataDir, env: {}, onError: () => {} });
  const fileSize = () =>
    ['embedding-cache.db', 'embedding-cache.db-wal'].reduce(
      (n, f) => n + (statSync(join(dataDir, f), { throwIfNoEntry: false })?.size ?? 0),
      0,
    );
  const emptySqlite = fileSize();
  await fill(sqlite);
  await sqlite.close();
  const sqliteBytes = (fileSize() - emptySqlite) / entries;
  rmSync(dataDir, { recursive: true, force: true });

  const { startPostgres } = await import(pathToFileURL(join(ROOT, 'test/helpers/postgres.mjs')).href);
  const postgres = await startPostgres();
  let postgresBytes;
  try {
    const url = await postgres.database();
    const pg = await openStore({
      dataDir: tmpdir(),
      url,
      env: { EMBCTL_SECRET_KEY: randomBytes(32).toString('base64') },
      onError: () => {},
    });
    await fill(pg);
    await pg.close();
    const { default: Pg } = await import('pg');
    const client = new Pg.Client({ connectionString: url });
    await client.connect();
    postgresBytes =
      Number((await client.query("SELECT pg_total_relation_size('embedding_cache') AS n")).rows[0].n) / entries;
    await client.end();
  } finally {
    await postgres.stop();
  }
  return {
    vector_bytes: DIMS * 4,
    entries,
    sqlite_bytes_per_entry: sqliteBytes,
    postgres_bytes_per_entry: postgresBytes,
  };
}

export function printCache(result, { duration, connections }) {
  console.log(`\nembedding cache · 16 × 1536 base64 · ${connections} connections, ${duration} s per target, one run`);
  printTable(result.rows);
  const gib = (perEntry) => ((perEntry * 1e6) / 2 ** 30).toFixed(2);
  const s = result.storage;
  console.log(
    `store size per million cached 1536-dimension vectors (${s.entries.toLocaleString('en-US')} written, ` +
      `${s.vector_bytes} bytes of floats each): SQLite ${gib(s.sqlite_bytes_per_entry)} GiB ` +
      `(${Math.round(s.sqlite_bytes_per_entry)} B/entry), PostgreSQL ${gib(s.postgres_bytes_per_entry)} GiB ` +
      `(${Math.round(s.postgres_bytes_per_entry)} B/entry)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = { duration: arg('duration', 6), connections: 32 };
  console.log(`cache benchmark · ${machine()}`);
  printCache(await cacheBench(options), options);
}
