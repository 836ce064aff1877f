#!/usr/bin/env node
// Where the gateway's memory goes under big float bodies: 256 × 1536 float at 32 connections for
// 10 s (`--duration`) through a fresh gateway over the fast fake upstream, sampling every 250 ms its resident set
// (/proc) and, from its /metrics, the V8 heap and the memory outside it (Buffers). Prints the idle
// sample, the sample at the peak RSS, and the maxima. Extra arguments go to `embctl gateway start`.
// Usage: npm run bench:memory [-- --duration 30] [-- --upstream-body-budget-mb 16] [-- --node=--trace-gc]
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { arg, gatewayOverFakeUpstream, machine } from './lib.mjs';

// `--duration S`: seconds of load (default 10). `--node=FLAG` (repeatable) goes to the gateway's
// Node (a V8 flag), the rest to `gateway start`.
const DURATION = arg('duration', 10);
const args = process.argv.slice(2).filter((a, i, all) => a !== '--duration' && all[i - 1] !== '--duration');
const setup = await gatewayOverFakeUpstream(
  1536,
  'bench',
  args.filter((a) => !a.startsWith('--node=')),
  args.filter((a) => a.startsWith('--node=')).map((a) => a.slice('--node='.length)),
);
const pid = setup.gateway.child.pid;
const input = Array.from({ length: 256 }, (_, i) => `Sentence number ${i} says something short about topic ${i % 17}.`);
const mb = (text, name) =>
  Number(new RegExp(`^embctl_process_${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
const status = (field) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const samples = [];
let running = true;
const sampling = (async () => {
  while (running) {
    const rss = status('VmRSS');
    const text = await (
      await fetch(`${setup.gateway.url}/metrics`, { headers: { authorization: `Bearer ${setup.adminToken}` } })
    ).text();
    samples.push({
      rss_mb: rss,
      heap_used_mb: mb(text, 'nodejs_heap_size_used_bytes'),
      heap_total_mb: mb(text, 'nodejs_heap_size_total_bytes'),
      external_mb: mb(text, 'nodejs_external_memory_bytes'),
    });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
})();
const result = await autocannon({
  url: `${setup.gateway.url}/v1/embeddings`,
  method: 'POST',
  connections: 32,
  duration: DURATION,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${setup.apiKey}` },
  body: JSON.stringify({ model: 'bench', input, encoding_format: 'float' }),
});
running = false;
await sampling;
const peakRss = status('VmHWM');
await setup.close();

const round = (sample) => Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, Math.round(v)]));
const max = (key) => Math.round(Math.max(...samples.map((s) => s[key])));
console.log(`gateway memory · ${machine()} · 256 × 1536 float, 32 connections, ${DURATION} s`);
console.log(
  `req/s ${result.requests.average.toFixed(1)}, non-2xx ${result.non2xx}, peak RSS (VmHWM) ${Math.round(peakRss)} MB`,
);
console.log('idle          ', round(samples[0]));
console.log('at peak RSS   ', round(samples.reduce((a, s) => (s.rss_mb > a.rss_mb ? s : a))));
console.log(`maxima         heap total ${max('heap_total_mb')} MB, outside the heap ${max('external_mb')} MB`);
