#!/usr/bin/env node
// Where the gateway's fixed per-request cost goes: the 1-input float workload at 32 connections
// against a gateway running under --cpu-prof, then every profile sample of the load window
// attributed to a stage (the first frame, leaf to root, that belongs to one) and divided by the
// requests served: CPU µs per request by stage. Prints a table; writes bench/results/stages.json.
// Usage: npm run bench:stages [-- --duration 8 --inputs 1 --base64 --detail STAGE]
import autocannon from 'autocannon';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, gatewayOverFakeUpstream, machine, printTable, saveResult } from './lib.mjs';

const DURATION = arg('duration', 8);
/** `--inputs N`: the batch size (default 1; 256 shows where big float bodies go). */
const INPUTS = arg('inputs', 1);
const ENCODING = process.argv.includes('--base64') ? 'base64' : 'float';

/** Leaf-to-root, the first frame matching a rule names the stage. Order matters: specific first. */
const STAGES = [
  ['response serialization', /dist\/gateway\/(serialize|buffer-pool)\.js|dist\/core\/vectors\.js/],
  [
    'log row and metrics',
    /dist\/gateway\/(request-log|metrics|log-tail)\.js|prom-client|request-logs\.js|better-sqlite3/,
  ],
  ['limiter', /dist\/gateway\/limits\.js|usage-counters\.js/],
  ['routing and constraints', /dist\/gateway\/(router|catalogue)\.js/],
  ['auth and key lookup', /dist\/gateway\/auth\.js|dist\/core\/secrets\.js/],
  ['validation and token bound', /dist\/core\/(embeddings-request|tokenizer|limits)\.js|gpt-tokenizer/],
  [
    'upstream call (undici, adapter, vector checks)',
    /undici|dist\/gateway\/(upstream|upstream-json|dispatch)\.js|dist\/gateway\/(providers|credentials)\//,
  ],
  [
    'route handler (embeddings.js, cache check)',
    /dist\/gateway\/routes\/embeddings\.js|dist\/gateway\/(cache-plan|embedding-cache)\.js|dist\/core\/cache-key\.js/,
  ],
  ['body parser and hooks (server.ts)', /dist\/gateway\/(server|http-errors)\.js/],
  [
    'Fastify (routing, hooks, reply)',
    /node_modules\/(fastify|find-my-way|avvio|@fastify|fast-json-stringify|light-my-request|secure-json-parse|toad-cache|abstract-logging|pino)/,
  ],
  [
    'node:http parse and socket I/O',
    /node:(_http|http|net|stream|internal\/(streams|http|net|stream_base))|_http_|HTTPParser/,
  ],
];

const profileDir = mkdtempSync(join(tmpdir(), 'embctl-stages-'));
const setup = await gatewayOverFakeUpstream(1536, 'bench', [], ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
const body = JSON.stringify({
  model: 'bench',
  input: Array.from({ length: INPUTS }, (_, i) => `Sentence number ${i} says something short about topic ${i % 17}.`),
  encoding_format: ENCODING,
});
const options = {
  url: `${setup.gateway.url}/v1/embeddings`,
  method: 'POST',
  connections: 32,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${setup.apiKey}` },
  body,
};
await autocannon({ ...options, duration: 2 }); // warm-up: JIT, pools
// The load window in the profile's clock: V8 stamps samples with the system's monotonic clock, as hrtime does.
const microseconds = () => Number(process.hrtime.bigint() / 1000n);
const loadStart = microseconds();
const result = await autocannon({ ...options, duration: DURATION });
const loadEnd = microseconds();
await setup.close(); // SIGTERM: the profile is written on exit
const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8'));
rmSync(profileDir, { recursive: true, force: true });

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
const frameText = (n) => `${n.callFrame.url} ${n.callFrame.functionName}`;
const stageMemo = new Map();
function stageOf(id) {
  if (stageMemo.has(id)) return stageMemo.get(id);
  const leaf = nodes.get(id);
  let stage;
  if (leaf.callFrame.functionName === '(garbage collector)') stage = 'garbage collection';
  else if (leaf.callFrame.functionName === '(idle)') stage = 'idle';
  else {
    for (let at = id; at !== undefined && !stage; at = parent.get(at)) {
      const text = frameText(nodes.get(at));
      stage = STAGES.find(([, pattern]) => pattern.test(text))?.[0];
    }
    stage ??= 'other (timers, microtasks, natives)';
  }
  stageMemo.set(id, stage);
  return stage;
}

const times = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) times.push((t += delta));
const first = times.findIndex((at) => at >= loadStart);
const end = times.findLastIndex((at) => at <= loadEnd);
if (first === -1 || end <= first) throw new Error('the profile holds no samples of the measured load');
// Each sample's time runs from the one before it: the window's first interval starts just before the load.
const start = Math.max(0, first - 1);
const spent = new Map();
for (let i = start + 1; i <= end; i++) {
  const stage = stageOf(profile.samples[i]);
  spent.set(stage, (spent.get(stage) ?? 0) + (times[i] - times[i - 1]));
}
const requests = result.requests.total;
const busy = [...spent].filter(([s]) => s !== 'idle').reduce((n, [, v]) => n + v, 0);
const rows = [...spent]
  .filter(([s]) => s !== 'idle')
  .sort((a, b) => b[1] - a[1])
  .map(([stage, us]) => ({
    stage,
    'µs/request': (us / requests).toFixed(1),
    share: `${((us / busy) * 100).toFixed(1)} %`,
  }));
rows.push({ stage: 'total CPU', 'µs/request': (busy / requests).toFixed(1), share: '100 %' });

/** `--detail STAGE`: the functions that stage's time is spent in (self time), to see what to cut. */
const detail = process.argv.includes('--detail') ? process.argv[process.argv.indexOf('--detail') + 1] : undefined;
if (detail) {
  const self = new Map();
  for (let i = start + 1; i <= end; i++) {
    const id = profile.samples[i];
    if (detail !== 'all' && !stageOf(id).startsWith(detail)) continue;
    const f = nodes.get(id).callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, 'dist/')}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + (times[i] - times[i - 1]));
  }
  console.log(`\n${detail}: self time by function`);
  printTable(
    [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, detail === 'all' ? 60 : 25)
      .map(([fn, us]) => ({ function: fn, 'µs/request': (us / requests).toFixed(1) })),
  );
}

console.log(
  `gateway CPU per request by stage · ${INPUTS} × 1536 ${ENCODING} · ${machine()} · 32 connections, ${DURATION} s, ` +
    `${Math.round(result.requests.average)} req/s under --cpu-prof (${requests.toLocaleString('en-US')} requests)\n`,
);
printTable(rows);
await saveResult('stages', { machine: machine(), requests, rps: result.requests.average, rows });
console.log('\nwritten: bench/results/stages.json');
