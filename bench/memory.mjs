#!/usr/bin/env node
// Where the gateway's memory goes under big float bodies: 256 × 1536 float at 32 connections for
// 10 s (`--duration`) through a fresh gateway over the fast fake upstream, sampling every 250 ms its resident set
// (/proc) and, from its /metrics, the V8 heap and the memory outside it (Buffers). Prints the idle
// sample, the sample at the peak RSS, and the maxima. Extra arguments go to `embctl gateway start`.
// Usage: npm run bench:memory [-- --duration 30] [-- --upstream-body-budget-mb 16] [-- --node=--trace-gc]
//        [-- --bursts 6 --pause 6]  (6 loads of `--duration` s, 6 s idle between: bench:compare's pattern,
//        every burst ending with 32 responses cut off; prints the RSS peak of each)
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { arg, gatewayOverFakeUpstream, machine } from './lib.mjs';

// `--duration S`: seconds of load (default 10). `--node=FLAG` (repeatable) goes to the gateway's
// Node (a V8 flag), the rest to `gateway start`.
const DURATION = arg('duration', 10);
const BURSTS = arg('bursts', 1);
const PAUSE = arg('pause', 6);
const OWN = new Set(['--duration', '--bursts', '--pause']);
const args = process.argv.slice(2).filter((a, i, all) => !OWN.has(a) && !OWN.has(all[i - 1]));
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
const results = [];
const burstPeaks = [];
for (let burst = 0; burst < BURSTS; burst++) {
  if (burst > 0) await new Promise((resolve) => setTimeout(resolve, PAUSE * 1000));
  const from = samples.length;
  results.push(
    await autocannon({
      url: `${setup.gateway.url}/v1/embeddings`,
      method: 'POST',
      connections: 32,
      duration: DURATION,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${setup.apiKey}` },
      body: JSON.stringify({ model: 'bench', input, encoding_format: 'float' }),
    }),
  );
  burstPeaks.push(Math.round(Math.max(...samples.slice(from).map((s) => s.rss_mb))));
}
const result = {
  requests: { average: results.reduce((n, r) => n + r.requests.average, 0) / results.length },
  non2xx: results.reduce((n, r) => n + r.non2xx, 0),
};
running = false;
await sampling;
const peakRss = status('VmHWM');
await setup.close();

const round = (sample) => Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, Math.round(v)]));
const max = (key) => Math.round(Math.max(...samples.map((s) => s[key])));
const shape = BURSTS > 1 ? `${BURSTS} bursts of ${DURATION} s, ${PAUSE} s apart` : `${DURATION} s`;
console.log(`gateway memory · ${machine()} · 256 × 1536 float, 32 connections, ${shape}`);
console.log(
  `req/s ${result.requests.average.toFixed(1)}, non-2xx ${result.non2xx}, peak RSS (VmHWM) ${Math.round(peakRss)} MB`,
);
console.log('idle          ', round(samples[0]));
console.log('at peak RSS   ', round(samples.reduce((a, s) => (s.rss_mb > a.rss_mb ? s : a))));
console.log(`maxima         heap total ${max('heap_total_mb')} MB, outside the heap ${max('external_mb')} MB`);
if (BURSTS > 1) console.log(`RSS peak by burst (sampled) ${burstPeaks.join(' ')} MB`);
