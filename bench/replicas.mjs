#!/usr/bin/env node
// The cost of sharing state: the 16 × 1536 base64 workload (the SDK's default batch) at 32
// connections through one gateway over SQLite, one over PostgreSQL, and `--workers 2` over
// PostgreSQL, all in front of the same fake upstream, alternately, in one run; then the same
// through a key with limits (every call reads and adds its usage counters in the store), which
// gives the per-call cost of the shared limit check. Prints a table; writes bench/results/replicas.json.
// Usage: npm run bench:replicas [-- --duration 6 --rounds 2]
import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../test/helpers/postgres.mjs';
import { BIN, arg, machine, printTable, startServer, stop, saveResult } from './lib.mjs';

const DURATION = arg('duration', 6);
const ROUNDS = arg('rounds', 2);
const CONNECTIONS = 32;
const DIMS = 1536;
const ADMIN = `embadm_${randomBytes(24).toString('base64url')}`;
const BODY = JSON.stringify({
  model: 'bench',
  encoding_format: 'base64',
  input: Array.from({ length: 16 }, (_, i) => `Sentence number ${i} says something short about topic ${i % 17}.`),
});
const LIMITS = { rpm: 10_000_000, tpm: 2_000_000_000, budget_usd_day: 1_000_000 };

const postgres = await startPostgres();
const upstream = await startServer(['bench/fake-upstream.mjs', String(DIMS)]);
const dirs = [];

async function admin(url, method, path, body) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** A gateway over `store` ('sqlite' or a PostgreSQL URL), with the bench entity and two keys. */
async function gateway(store, workers) {
  const dir = mkdtempSync(join(tmpdir(), 'embctl-bench-'));
  dirs.push(dir);
  const env = {
    ...process.env,
    CI: 'true',
    EMBCTL_CONFIG_DIR: join(dir, 'config'),
    EMBCTL_DATA_DIR: join(dir, 'data'),
    EMBCTL_ADMIN_TOKEN: ADMIN,
    EMBCTL_SECRET_KEY: randomBytes(32).toString('base64'),
    ...(store === 'sqlite' ? {} : { EMBCTL_STORE_URL: store }),
  };
  const server = await startServer([BIN, 'gateway', 'start', '--port', '0', '--workers', String(workers)], env);
  await admin(server.url, 'POST', '/v1/embedding-models', {
    id: 'bench',
    provider: 'openai-compatible',
    config: { connection: { base_url: `${upstream.url}/v1` }, options: { model: 'bench-v1' } },
    dimensions: DIMS,
    pricing: { input_per_million_tokens: 0.02 },
  });
  const unlimited = await admin(server.url, 'POST', '/v1/api-keys', { name: 'unlimited' });
  const limited = await admin(server.url, 'POST', '/v1/api-keys', { name: 'limited', limits: LIMITS });
  // Every worker's catalogue has the new keys (it rechecks every 250 ms).
  await new Promise((resolve) => setTimeout(resolve, 600));
  return { server, keys: { unlimited: unlimited.secret, limited: limited.secret } };
}

const load = async (url, token, model) => {
  const result = await autocannon({
    url: `${url}/v1/embeddings`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: model ? BODY.replace('"bench"', `"${model}"`) : BODY,
    connections: CONNECTIONS,
    duration: DURATION,
  });
  if (result.non2xx || result.errors)
    throw new Error(
      `${url}: ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodeStats)}), ${result.errors} errors`,
    );
  return result;
};

const CONFIGS = [
  { name: '1 gateway, SQLite', store: 'sqlite', workers: 1 },
  { name: '1 gateway, PostgreSQL', store: await postgres.database(), workers: 1 },
  { name: '--workers 2, PostgreSQL', store: await postgres.database(), workers: 2 },
];
const running = [];
for (const config of CONFIGS) running.push({ ...config, ...(await gateway(config.store, config.workers)) });

const runs = new Map();
const record = (name, result) => runs.set(name, [...(runs.get(name) ?? []), result]);
for (let round = 0; round < ROUNDS; round++) {
  record('direct', await load(upstream.url, 'bench', 'bench-v1'));
  const order = round % 2 ? [...running].reverse() : running;
  for (const r of order) {
    record(`${r.name}|unlimited`, await load(r.server.url, r.keys.unlimited));
    record(`${r.name}|limited`, await load(r.server.url, r.keys.limited));
  }
}
const summary = (list) => ({
  rps: list.reduce((n, r) => n + r.requests.average, 0) / list.length,
  p50: list.reduce((n, r) => n + r.latency.p50, 0) / list.length,
  p99: list.reduce((n, r) => n + r.latency.p99, 0) / list.length,
});

const direct = summary(runs.get('direct'));
const sqlite = summary(runs.get(`${CONFIGS[0].name}|unlimited`));
const rows = [
  {
    setup: 'direct (fake upstream)',
    key: '-',
    'req/s': Math.round(direct.rps),
    'p50 ms': direct.p50.toFixed(1),
    'p99 ms': direct.p99.toFixed(1),
    'vs direct': '1.00',
    'vs SQLite': '-',
    'limit check µs/call': '-',
  },
];
const results = {
  machine: machine(),
  duration_s: DURATION,
  rounds: ROUNDS,
  connections: CONNECTIONS,
  direct,
  setups: [],
};
for (const r of running) {
  const free = summary(runs.get(`${r.name}|unlimited`));
  const limited = summary(runs.get(`${r.name}|limited`));
  // At saturation each connection waits 1/rps × connections per call: the extra wait is the check's cost.
  const checkUs = ((CONNECTIONS / limited.rps - CONNECTIONS / free.rps) * 1e6) / CONNECTIONS;
  results.setups.push({ name: r.name, unlimited: free, limited, limit_check_us_per_call: checkUs });
  for (const [key, s] of [
    ['no limits', free],
    ['rpm+tpm+budget', limited],
  ]) {
    rows.push({
      setup: r.name,
      key,
      'req/s': Math.round(s.rps),
      'p50 ms': s.p50.toFixed(1),
      'p99 ms': s.p99.toFixed(1),
      'vs direct': (s.rps / direct.rps).toFixed(2),
      'vs SQLite': (s.rps / sqlite.rps).toFixed(2),
      'limit check µs/call': key === 'no limits' ? '-' : Math.round(checkUs),
    });
  }
}
console.log(
  `\n${results.machine}; ${CONNECTIONS} connections, ${DURATION} s × ${ROUNDS} rounds per row, 16 × ${DIMS} base64`,
);
printTable(rows);
await saveResult('replicas', results);

await Promise.all(running.map((r) => stop(r.server.child)));
await stop(upstream.child);
await postgres.stop();
for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
