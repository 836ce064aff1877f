#!/usr/bin/env node
// What an upstream call costs the gateway's process in undici: `request()` (a Readable and an
// AsyncResource per answer, what the piping proxy uses) against the dispatcher API the gateway uses
// (`dist/gateway/upstream-exchange.js`), each side in a process of its own, alternating in one run,
// against bench/fake-upstream.mjs answering 1-input 1536-float calls. Prints client CPU µs per call
// and req/s for each, and the ratio.
// Usage: npm run bench:upstream-client [-- --calls 20000 --rounds 3]
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { exchange } from '../dist/gateway/upstream-exchange.js';
import { arg, machine, printTable, startServer, stop } from './lib.mjs';

const CALLS = arg('calls', 20_000);
const ROUNDS = arg('rounds', 3);
const CONCURRENCY = 32;

// The upstream in a process of its own, so that only the client's CPU is counted (a side's process
// is given its URL).
const GIVEN = process.argv.includes('--upstream') ? process.argv[process.argv.indexOf('--upstream') + 1] : undefined;
const upstream = GIVEN ? undefined : await startServer(['bench/fake-upstream.mjs', '1536']);
const url = GIVEN ?? `${upstream.url}/v1/embeddings`;
const pool = GIVEN ? new Agent({ keepAliveTimeout: 30_000, connections: 256 }) : undefined;
const outgoing = {
  method: 'POST',
  url,
  headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer bench' },
  body: JSON.stringify({ input: 'hello world', model: 'm' }),
};

const viaRequest = async () => {
  const response = await request(url, { ...outgoing, dispatcher: pool });
  const chunks = [];
  await new Promise((resolve, reject) => {
    response.body.on('data', (chunk) => chunks.push(chunk));
    response.body.once('end', resolve);
    response.body.once('error', reject);
  });
  return chunks;
};
const viaDispatcher = async () => {
  const response = await exchange(pool, outgoing, {
    timeout: 10_000,
    abortOn: Object.assign(new EventEmitter(), { aborted: false, reason: undefined }),
  });
  const chunks = [];
  await response.read(Number.POSITIVE_INFINITY, (chunk) => chunks.push(chunk));
  return chunks;
};

async function run(call, calls) {
  let started = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started++ < calls) await call();
    }),
  );
}
async function measure(call) {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  await run(call, CALLS);
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / CALLS, rps: CALLS / ((performance.now() - wall) / 1000) };
}

const SIDES = { 'request()': viaRequest, 'dispatcher (gateway)': viaDispatcher };
const SIDE = process.argv.includes('--side') ? process.argv[process.argv.indexOf('--side') + 1] : undefined;
if (SIDE !== undefined) {
  // One side in a process of its own: in one process the two would share undici's JIT state, each
  // path slowing the other, where the gateway only ever runs the dispatcher.
  await run(SIDES[SIDE], 3000); // warm-up: JIT, connections
  process.stdout.write(`${JSON.stringify(await measure(SIDES[SIDE]))}\n`);
  await pool.close();
  process.exit(0);
}
const results = Object.fromEntries(Object.keys(SIDES).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++)
  for (const name of Object.keys(SIDES)) {
    const output = execFileSync(
      process.execPath,
      [fileURLToPath(import.meta.url), '--side', name, '--upstream', url, '--calls', String(CALLS)],
      { encoding: 'utf8' },
    );
    results[name].push(JSON.parse(output));
  }
await stop(upstream.child);

const mean = (list, field) => list.reduce((n, r) => n + r[field], 0) / list.length;
console.log(
  `undici client cost per upstream call · ${machine()} · ${CONCURRENCY} concurrent, ${ROUNDS} × ${CALLS} calls a side, each in its own process\n`,
);
printTable(
  Object.entries(results).map(([name, list]) => ({
    client: name,
    'CPU µs/call': mean(list, 'cpu').toFixed(1),
    'req/s': Math.round(mean(list, 'rps')),
  })),
);
console.log(
  `\ndispatcher ÷ request(): ${(mean(results['dispatcher (gateway)'], 'cpu') / mean(results['request()'], 'cpu')).toFixed(2)} × the CPU`,
);
