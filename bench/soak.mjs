#!/usr/bin/env node
// Soak: a steady rate through the gateway for a bounded time (default 60 s at 200 req/s, the SDKs'
// default 16 × 1536 base64 request), in 10 s segments. Reports errors (must be 0), p99 per segment
// (drift), and the gateway's RSS per segment (growth must stay flat). Loopback only; stops by itself.
// Usage: npm run bench:soak [-- --seconds 60 --rate 200]
import autocannon from 'autocannon';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, machine, printTable, startServer, stop } from './lib.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 60);
const RATE = arg('rate', 200);
const SEGMENT = 10;

const dir = mkdtempSync(join(tmpdir(), 'embctl-soak-'));
const env = { ...process.env, EMBCTL_CONFIG_DIR: join(dir, 'config'), EMBCTL_DATA_DIR: join(dir, 'data'), CI: 'true' };
const upstream = await startServer(['bench/fake-upstream.mjs', '1536'], env);
const gateway = await startServer([BIN, 'gateway', 'start', '--port', '0'], env);
const profile = JSON.parse(readFileSync(join(dir, 'config', 'config.json'), 'utf8')).profiles.local;
await fetch(`${gateway.url}/v1/embedding-models`, {
  method: 'POST',
  headers: { authorization: `Bearer ${profile.adminToken}`, 'content-type': 'application/json' },
  body: JSON.stringify({ id: 'soak', provider: 'openai-compatible', config: { connection: { base_url: `${upstream.url}/v1` }, options: { model: 'soak-v1' } }, dimensions: 1536 }),
});
const body = JSON.stringify({ model: 'soak', input: Array.from({ length: 16 }, (_, i) => `soak sentence ${i}`), encoding_format: 'base64' });
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

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
  segments.push({ from_s: t, requests: result.requests.total, errors: result.errors + result.non2xx, p50_ms: result.latency.p50, p99_ms: result.latency.p99, rss_mb: Math.round(rss()) });
}
await Promise.all([stop(gateway.child), stop(upstream.child)]);
rmSync(dir, { recursive: true, force: true });

const errors = segments.reduce((n, s) => n + s.errors, 0);
const first = segments[0];
const last = segments[segments.length - 1];
const summary = { machine: machine(), seconds: SECONDS, rate: RATE, errors, p99_first_ms: first.p99_ms, p99_last_ms: last.p99_ms, rss_first_mb: first.rss_mb, rss_last_mb: last.rss_mb, segments };
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'soak.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`soak · ${machine()} · ${SECONDS} s at ${RATE} req/s, 16 × 1536 base64 through the gateway\n`);
printTable(segments);
console.log(`\nerrors: ${errors} (must be 0) · p99 ${first.p99_ms} → ${last.p99_ms} ms · RSS ${first.rss_mb} → ${last.rss_mb} MB (must stay flat)`);
process.exitCode = errors === 0 ? 0 : 1;
