#!/usr/bin/env node
// Index targets at scale: N generated vectors (a mixture of clusters, as real embeddings are, not
// uniform noise) written through each target's own appender, the code path `embed --out` uses, in
// batches of 128. Per target, in its own process: build rate, size on disk, peak RSS, query p50/p99
// for k = 10, and recall@10 of its default search against exact brute force over the same vectors,
// on held-out queries. Usage: npm run bench:index [-- --count 1000000 --dims 384 --queries 100]
//   [--targets jsonl,sqlite,lancedb]  (brute-force targets are queried 20 times: each query scans all)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, arg, machine, printTable, saveResult } from './lib.mjs';

const COUNT = arg('count', 1_000_000);
const DIMS = arg('dims', 384);
const QUERIES = arg('queries', 100);
const K = 10;
const CLUSTERS = 1000;
const targetsArg = process.argv.indexOf('--targets');
const TARGETS = targetsArg === -1 ? ['jsonl', 'sqlite', 'lancedb'] : process.argv[targetsArg + 1].split(',');
const BRUTE_QUERIES = 20;

/** A seeded PRNG (mulberry32) and Gaussian draws: every process generates the same vectors. */
function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
  return { next, gauss };
}

function unit(v) {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i] *= s;
  return v;
}

const centers = (() => {
  const r = random(7);
  return Array.from({ length: CLUSTERS }, () => unit(Float32Array.from({ length: DIMS }, r.gauss)));
})();

/** Vectors `seed` generates, one at a time: a random cluster's center plus noise, unit length. */
function* vectors(seed, count) {
  const r = random(seed);
  for (let i = 0; i < count; i++) {
    const c = centers[Math.floor(r.next() * CLUSTERS)];
    const v = new Float32Array(DIMS);
    for (let d = 0; d < DIMS; d++) v[d] = c[d] + ((0.35 * r.gauss()) / Math.sqrt(DIMS)) * 4;
    yield unit(v);
  }
}

const queries = () => Array.from(vectors(99, QUERIES));

/** Exact top-k ids of every query over the corpus, streamed (the corpus is never held whole). */
function groundTruth() {
  const qs = queries();
  const best = qs.map(() => []);
  let id = 0;
  for (const v of vectors(1, COUNT)) {
    for (let q = 0; q < qs.length; q++) {
      let s = 0;
      const query = qs[q];
      for (let d = 0; d < DIMS; d++) s += v[d] * query[d];
      const list = best[q];
      if (list.length === K && s <= list[K - 1].s) continue;
      let at = list.length;
      while (at > 0 && list[at - 1].s < s) at--;
      list.splice(at, 0, { id, s });
      if (list.length > K) list.pop();
    }
    id++;
  }
  return best.map((list) => list.map((h) => `doc-${h.id}`));
}

async function child(kind, dir, truthFile) {
  const { openTarget } = await import(join(ROOT, 'dist/cli/index/target.js'));
  const spec = {
    jsonl: join(dir, 'bench.jsonl'),
    sqlite: `sqlite:${join(dir, 'bench.db')}#bench`,
    lancedb: `lancedb:${join(dir, 'lance')}#bench`,
  }[kind];
  const target = await openTarget(spec);
  target.remove();
  const started = performance.now();
  const writer = await target.open(undefined);
  const now = new Date().toISOString();
  writer.saveMeta({
    format: 'embctl-embeddings',
    version: 1,
    model: 'bench-v1',
    requested_model: 'bench',
    dimensions: DIMS,
    vector_format: 'base64',
    text: true,
    records: 0,
    created_at: now,
    updated_at: now,
    embctl_version: 'bench',
  });
  let batch = [];
  let position = 0;
  for (const v of vectors(1, COUNT)) {
    batch.push({
      position,
      id: `doc-${position}`,
      text: `record ${position} of the bench corpus`,
      embedding: JSON.stringify(Buffer.from(v.buffer).toString('base64')),
    });
    position++;
    if (batch.length === 128) {
      await writer.append(batch, true);
      batch = [];
    }
  }
  if (batch.length) await writer.append(batch, true);
  await writer.flush();
  await writer.close();
  const buildSeconds = (performance.now() - started) / 1000;
  const bytes = Number(
    execFileSync('du', [
      '-sb',
      kind === 'lancedb' ? join(dir, 'lance') : spec.replace(/^sqlite:/, '').replace(/#.*/, ''),
    ])
      .toString()
      .split('\t')[0],
  );

  const openStarted = performance.now();
  const index = await target.reader();
  const openMs = performance.now() - openStarted;
  const truth = JSON.parse(readFileSync(truthFile, 'utf8'));
  const qs = queries().slice(0, kind === 'lancedb' ? QUERIES : BRUTE_QUERIES);
  const latencies = [];
  let found = 0;
  for (const [i, q] of qs.entries()) {
    const t0 = performance.now();
    const [hits] = await index.search([q], { k: K });
    latencies.push(performance.now() - t0);
    const expected = new Set(truth[i]);
    found += hits.filter((h) => expected.has(h.id)).length;
  }
  index.close();
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  process.stdout.write(
    `${JSON.stringify({
      kind,
      build_per_s: COUNT / buildSeconds,
      build_s: buildSeconds,
      bytes,
      open_ms: openMs,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      queries: qs.length,
      recall_at_10: found / (qs.length * K),
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  );
}

if (process.argv.includes('--child')) {
  const i = process.argv.indexOf('--child');
  await child(process.argv[i + 1], process.argv[i + 2], process.argv[i + 3]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'embctl-bench-index-'));
  const truthFile = join(dir, 'truth.json');
  const truthStarted = performance.now();
  writeFileSync(truthFile, JSON.stringify(groundTruth()));
  console.error(`ground truth: ${((performance.now() - truthStarted) / 1000).toFixed(1)} s`);
  const results = [];
  for (const kind of TARGETS) {
    const out = await new Promise((resolve, reject) => {
      const p = spawn(
        process.execPath,
        ['--max-old-space-size=4096', 'bench/index.mjs', ...process.argv.slice(2), '--child', kind, dir, truthFile],
        // As the CLI runs LanceDB: its developer warnings off (main.ts).
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { LANCEDB_LOG: 'error', ...process.env } },
      );
      let text = '';
      p.stdout.on('data', (d) => (text += d));
      p.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`${kind}: exit ${code}`))));
    });
    results.push(JSON.parse(out.trim().split('\n').at(-1)));
    console.error(`${kind}: done`);
  }
  rmSync(dir, { recursive: true, force: true });
  await saveResult('index', { machine: machine(), count: COUNT, dims: DIMS, results });
  console.log(
    `index targets · ${machine()} · ${COUNT.toLocaleString('en-US')} × ${DIMS} vectors (${CLUSTERS} clusters), k = ${K}\n`,
  );
  printTable(
    results.map((r) => ({
      target: r.kind,
      'build vectors/s': Math.round(r.build_per_s),
      'size MB': Math.round(r.bytes / 2 ** 20),
      'peak RSS MB': Math.round(r.peak_rss_mb),
      'open ms': Math.round(r.open_ms),
      'query p50 ms': r.p50_ms.toFixed(1),
      'query p99 ms': r.p99_ms.toFixed(1),
      'recall@10': r.recall_at_10.toFixed(3),
      queries: r.queries,
    })),
  );
  console.log('\ntargets: p50 ≤ 20 ms with recall@10 ≥ 0.95 on at least one target; build ≥ 20 000 vectors/s');
}
