#!/usr/bin/env node
// Gateway overhead on embedding traffic, measured side by side: autocannon drives the same requests
// at a fast fake upstream directly and through the gateway (an openai-compatible entity pointing at
// it), alternately, in one run. Also: p50 added latency at a fixed 200 req/s, the gateway's peak
// RSS, and the local provider's throughput. Prints a table and writes bench/results/gateway.json.
// Usage: npm run bench:gateway [-- --duration 6 --rounds 2 --pin --budget-mb 32 --only "256"]
// `--only TEXT`: just the side-by-side table, for the workloads whose name contains TEXT.
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { cacheBench, printCache } from './cache.mjs';
import {
  ROOT,
  arg,
  cpuMicros,
  fixedRate,
  gatewayOverFakeUpstream,
  machine,
  median,
  peakRssMb,
  printTable,
  quiesce,
  startServer,
  stop,
  saveResult,
} from './lib.mjs';
const DURATION = arg('duration', 6);
/** `--pin`: give the gateway its own vCPU for the fixed-rate run (Linux, taskset). */
const PIN = process.argv.includes('--pin');
const ROUNDS = arg('rounds', 2);
const CONNECTIONS = 32;
/** `--budget-mb N`: every gateway started with `--upstream-body-budget-mb N` (default: the gateway's own). */
const BUDGET_ARGS = process.argv.includes('--budget-mb')
  ? ['--upstream-body-budget-mb', String(arg('budget-mb', 32))]
  : [];

// Each workload gets a fresh gateway (and upstream): RSS never shrinks back after a heavier load, so
// one shared gateway would report the previous workload's peak as this one's.
let setup;
/** `workers`: also a `--workers 2` gateway (over its own fake upstream), measured as one more target. */
const fresh = async (gatewayArgs = [], { workers = false } = {}) => {
  await setup?.close();
  setup = await gatewayOverFakeUpstream(1536, 'bench', [...BUDGET_ARGS, ...gatewayArgs]);
  const [piping, parsing, twoWorkers] = await Promise.all([
    startServer(['bench/piping-proxy.mjs', setup.upstream.url]),
    startServer(['bench/minimal-proxy.mjs', setup.upstream.url]),
    workers ? gatewayOverFakeUpstream(1536, 'bench', [...BUDGET_ARGS, '--workers', '2']) : undefined,
  ]);
  const close = setup.close;
  setup = {
    ...setup,
    piping,
    parsing,
    twoWorkers,
    close: () => Promise.all([close(), stop(piping.child), stop(parsing.child), twoWorkers?.close()]),
  };
};

const sentences = (n) =>
  Array.from({ length: n }, (_, i) => `Sentence number ${i} says something short about topic ${i % 17}.`);
const WORKLOADS = [
  { name: '1 input, float', inputs: 1, body: { input: sentences(1)[0], encoding_format: 'float' } },
  { name: '16 × 1536 base64 (SDK default)', inputs: 16, body: { input: sentences(16), encoding_format: 'base64' } },
  { name: '256 × 1536 float', inputs: 256, body: { input: sentences(256), encoding_format: 'float' } },
];
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
/**
 * Who is measured: the upstream itself, the two bare proxies (the floor), the gateway, and the
 * gateway as `--workers 2` (two processes on the port: what it does with both vCPUs, which the
 * single-process proxies cannot use).
 */
const WORKERS = 'gateway --workers 2';
const TARGETS = ['direct', 'piping proxy', 'parsing proxy', 'gateway', WORKERS];
const target = (who, body) => {
  const gateway = who === WORKERS ? setup.twoWorkers : who === 'gateway' ? setup : undefined;
  const url = {
    direct: setup.upstream.url,
    'piping proxy': setup.piping?.url,
    'parsing proxy': setup.parsing?.url,
  }[who];
  // The proxies forward the body untouched: they get the upstream's own model name.
  return {
    url: `${gateway ? gateway.gateway.url : url}/v1/embeddings`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway ? gateway.apiKey : 'bench'}` },
    body: JSON.stringify({ ...body, model: gateway ? 'bench' : 'bench-v1' }),
  };
};
const load = async (options) => {
  const result = await autocannon({ ...options, duration: options.duration ?? DURATION });
  if (result.non2xx || result.errors)
    throw new Error(`${options.url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result;
};
/** The process doing the target's work (for direct, the upstream); none for the two-process gateway. */
const pidOf = (who) =>
  ({
    direct: setup.upstream.child.pid,
    'piping proxy': setup.piping.child.pid,
    'parsing proxy': setup.parsing.child.pid,
    gateway: setup.gateway.child.pid,
  })[who];
/** One round of load on `who`, with the CPU its process used per request served. */
/** Every process of the current setup: each round starts once all of them are idle. */
const allPids = () =>
  [
    setup.upstream,
    setup.piping,
    setup.parsing,
    setup.gateway,
    setup.twoWorkers?.upstream,
    setup.twoWorkers?.gateway,
  ].map((server) => server?.child.pid);
const measure = async (who, body) => {
  await quiesce(allPids());
  const pid = pidOf(who);
  const before = pid && cpuMicros(pid);
  const result = await load({ ...target(who, body), connections: CONNECTIONS });
  return { ...result, cpuPerRequest: pid ? (cpuMicros(pid) - before) / result.requests.total : undefined };
};

const rows = [];
const results = { machine: machine(), duration_s: DURATION, rounds: ROUNDS, connections: CONNECTIONS, workloads: [] };
for (const workload of WORKLOADS.filter((w) => ONLY === undefined || w.name.includes(ONLY))) {
  await fresh([], { workers: true });
  // Warm-up, discarded: every process's JIT and connection pools (a --workers gateway has two of each).
  for (const who of TARGETS) await load({ ...target(who, workload.body), connections: CONNECTIONS, duration: 2 });
  const runs = Object.fromEntries(TARGETS.map((who) => [who, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...TARGETS].reverse() : TARGETS;
    for (const who of order) runs[who].push(await measure(who, workload.body));
  }
  const summary = (list) => ({
    rps: list.reduce((n, r) => n + r.requests.average, 0) / list.length,
    p50: list.reduce((n, r) => n + r.latency.p50, 0) / list.length,
    p99: list.reduce((n, r) => n + r.latency.p99, 0) / list.length,
    cpu_us_per_request: list[0].cpuPerRequest === undefined ? undefined : median(list.map((r) => r.cpuPerRequest)),
  });
  const measured = Object.fromEntries(TARGETS.map((who) => [who, summary(runs[who])]));
  const rss = peakRssMb(setup.gateway.child.pid);
  const through = measured.gateway;
  results.workloads.push({
    name: workload.name,
    inputs: workload.inputs,
    ...measured,
    ratio: through.rps / measured.direct.rps,
    vs_piping_proxy: through.rps / measured['piping proxy'].rps,
    vs_parsing_proxy: through.rps / measured['parsing proxy'].rps,
    workers_2_vs_piping_proxy: measured[WORKERS].rps / measured['piping proxy'].rps,
    gateway_peak_rss_mb: rss,
  });
  for (const who of TARGETS) {
    const m = measured[who];
    rows.push({
      workload: who === 'direct' ? workload.name : '',
      target: who,
      'req/s': Math.round(m.rps),
      'inputs/s': Math.round(m.rps * workload.inputs),
      'p50 ms': m.p50.toFixed(1),
      'p99 ms': m.p99.toFixed(1),
      'CPU µs/req': m.cpu_us_per_request === undefined ? '' : Math.round(m.cpu_us_per_request),
      'gateway ÷ this': who.startsWith('gateway') ? '' : (through.rps / m.rps).toFixed(2),
      'this ÷ piping': (m.rps / measured['piping proxy'].rps).toFixed(2),
      'gateway peak RSS MB': who === 'gateway' ? Math.round(rss) : '',
    });
  }
}

const header = () =>
  console.log(
    `gateway benchmark · ${machine()} · autocannon, ${CONNECTIONS} connections, ${DURATION} s × ${ROUNDS} alternating ` +
      `rounds per target\n`,
  );
if (ONLY !== undefined) {
  await setup.close();
  header();
  printTable(rows);
  process.exit(0);
}

// The same SDK-default load on a gateway left with V8's own young generation, for comparison.
await fresh(['--young-generation-mb', '0']);
const untuned = [];
for (let round = 0; round < ROUNDS; round++)
  untuned.push(await load({ ...target('gateway', WORKLOADS[1].body), connections: CONNECTIONS }));
results.v8_default_young_generation = {
  rps: untuned.reduce((n, r) => n + r.requests.average, 0) / untuned.length,
  gateway_peak_rss_mb: peakRssMb(setup.gateway.child.pid),
};

// Added latency at a moderate fixed rate, where neither side queues.
/** The gateway's own time per call by its Request Logs (latency_ms − upstream_ms), p50 over the last rows. */
async function gatewayOwnTime() {
  await new Promise((resolve) => setTimeout(resolve, 300)); // one log flush
  const response = await fetch(`${setup.gateway.url}/v1/request-logs?limit=500`, {
    headers: { authorization: `Bearer ${setup.adminToken}` },
  });
  const own = (await response.json()).data.map((row) => row.latency_ms - row.upstream_ms).sort((a, b) => a - b);
  return own[Math.floor(own.length / 2)];
}

// For scale, the same hop through a bare Node proxy (bench/minimal-proxy.mjs): the floor of any Node gateway.
await fresh();
const proxy = setup.parsing;
if (PIN) {
  // The gateway and the bare proxy on the last vCPU, the load generator and the upstream on the others.
  const last = cpus().length - 1;
  const pin = (pid, cpuList) => execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
  for (const pid of [process.pid, setup.upstream.child.pid]) pin(pid, `0-${Math.max(0, last - 1)}`);
  for (const pid of [setup.gateway.child.pid, proxy.child.pid]) pin(pid, String(last));
}
const fixedTarget = (who) =>
  who === 'minimal proxy'
    ? { ...target('direct', WORKLOADS[1].body), url: `${proxy.url}/v1/embeddings` }
    : target(who, WORKLOADS[1].body);
const fixed = {};
// warm-up, discarded
for (const who of ['direct', 'gateway', 'minimal proxy']) await fixedRate(fixedTarget(who), { rate: 200, seconds: 1 });
for (const who of ['direct', 'gateway', 'minimal proxy', 'direct', 'gateway', 'minimal proxy']) {
  const result = await fixedRate(fixedTarget(who), { rate: 200, seconds: DURATION });
  (fixed[who] ??= []).push(result.p50);
}
const p50 = (who) => fixed[who].reduce((a, b) => a + b, 0) / fixed[who].length;
results.fixed_rate = {
  rate: 200,
  pinned: PIN,
  direct_p50_ms: p50('direct'),
  gateway_p50_ms: p50('gateway'),
  added_p50_ms: p50('gateway') - p50('direct'),
  minimal_proxy_added_p50_ms: p50('minimal proxy') - p50('direct'),
  gateway_own_p50_ms: await gatewayOwnTime(),
};
results.fixed_rate.gateway_peak_rss_mb = peakRssMb(setup.gateway.child.pid);

// The local provider: in-process, one core, then through the gateway.
const { hashEmbed } = await import(join(ROOT, 'dist/gateway/providers/local.js'));
const { countTextTokens } = await import(join(ROOT, 'dist/core/tokenizer.js'));
const short = sentences(10_000);
const started = performance.now();
for (let round = 0; round < 5; round++) {
  for (const s of short) {
    countTextTokens(s);
    hashEmbed(s, 384);
  }
}
const localInProcess = (5 * short.length * 1000) / (performance.now() - started);
const localThrough = await load({
  ...target('gateway', { input: sentences(64), encoding_format: 'base64' }),
  body: JSON.stringify({ model: 'local', input: sentences(64), encoding_format: 'base64' }),
  connections: 8,
});
results.local = {
  in_process_inputs_per_s: localInProcess,
  through_gateway_inputs_per_s: localThrough.requests.average * 64,
};

await setup.close();

// The embedding cache: 0 %, 50 % and 100 % repeated inputs against direct and an uncached entity.
results.cache = await cacheBench({ duration: DURATION, connections: CONNECTIONS });
await saveResult('gateway', results);

header();
printTable(rows);
console.log(
  `\nat a fixed 200 req/s (16 × 1536 base64): p50 direct ${results.fixed_rate.direct_p50_ms.toFixed(2)} ms, through ` +
    `the gateway ${results.fixed_rate.gateway_p50_ms.toFixed(2)} ms → added ` +
    `${results.fixed_rate.added_p50_ms.toFixed(2)} ms (target ≤ 1 ms; high-resolution timer, 8 connections); ` +
    `a bare Node proxy adds ${results.fixed_rate.minimal_proxy_added_p50_ms.toFixed(2)} ms` +
    `${PIN ? ' (gateway and proxy pinned to their own vCPU)' : ''}; ` +
    `the gateway's own time by its Request Logs: p50 ${results.fixed_rate.gateway_own_p50_ms.toFixed(2)} ms`,
);
const sdkDefault = results.workloads[1];
console.log(
  `gateway peak RSS under the 16 × 1536 base64 load at ${CONNECTIONS} connections: ` +
    `${Math.round(sdkDefault.gateway_peak_rss_mb)} MB (target ≤ 150 MB); at 200 req/s: ` +
    `${Math.round(results.fixed_rate.gateway_peak_rss_mb)} MB`,
);
console.log(
  `the same with V8's default young generation (--young-generation-mb 0): ` +
    `${Math.round(results.v8_default_young_generation.rps)} req/s, peak RSS ` +
    `${Math.round(results.v8_default_young_generation.gateway_peak_rss_mb)} MB`,
);
console.log(
  `local provider (384 dims, short sentences, tokens counted): ` +
    `${Math.round(localInProcess).toLocaleString('en-US')} inputs/s in-process on one core; ` +
    `${Math.round(results.local.through_gateway_inputs_per_s).toLocaleString('en-US')} inputs/s through the gateway (target ≥ 20 000)`,
);
printCache(results.cache, { duration: DURATION, connections: CONNECTIONS });
console.log('\nwritten: bench/results/gateway.json');
