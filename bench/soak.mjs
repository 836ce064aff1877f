#!/usr/bin/env node
// Soak: a steady rate through the gateway for a bounded time (default 60 s at 200 req/s, the SDKs'
// default 16 × 1536 base64 request), in 10 s segments. Reports errors (must be 0), p99 per segment
// (drift), and the gateway's RSS per segment (growth must stay flat). Loopback only; stops by itself.
// Usage: npm run bench:soak [-- --seconds 60 --rate 200]
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { arg, gatewayOverFakeUpstream, machine, printTable, saveResult } from './lib.mjs';
const SECONDS = arg('seconds', 60);
const RATE = arg('rate', 200);
const SEGMENT = 10;

const setup = await gatewayOverFakeUpstream(1536, 'soak');
const { gateway } = setup;
const profile = { apiKey: setup.apiKey };
const body = JSON.stringify({
  model: 'soak',
  input: Array.from({ length: 16 }, (_, i) => `soak sentence ${i}`),
  encoding_format: 'base64',
});
const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

const segments = [];
for (let t = 0; t < SECONDS; t += SEGMENT) {
  const result = await autocannon({
    url: `${gateway.url}/v1/embeddings`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${profile.apiKey}` },
    body,
    connections: 8,
    overallRate: RATE,
    duration: Math.min(SEGMENT, SECONDS - t),
  });
  segments.push({
    from_s: t,
    requests: result.requests.total,
    errors: result.errors + result.non2xx,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    rss_mb: Math.round(rss()),
  });
}
await setup.close();

const errors = segments.reduce((n, s) => n + s.errors, 0);
const first = segments[0];
const last = segments[segments.length - 1];
const summary = {
  machine: machine(),
  seconds: SECONDS,
  rate: RATE,
  errors,
  p99_first_ms: first.p99_ms,
  p99_last_ms: last.p99_ms,
  rss_first_mb: first.rss_mb,
  rss_last_mb: last.rss_mb,
  segments,
};
await saveResult('soak', summary);
console.log(`soak · ${machine()} · ${SECONDS} s at ${RATE} req/s, 16 × 1536 base64 through the gateway\n`);
printTable(segments);
console.log(
  `\nerrors: ${errors} (must be 0) · p99 ${first.p99_ms} → ${last.p99_ms} ms · RSS ${first.rss_mb} → ${last.rss_mb} ` +
    `MB (must stay flat)`,
);
process.exitCode = errors === 0 ? 0 : 1;
