#!/usr/bin/env node
// A batch job the gateway runs itself against `embctl embed -f` on the same input, same gateway,
// same fast fake upstream, alternating in one run: lines/s of each (the job from its creation to
// `completed`, and end to end with `jobs submit` and `jobs download --out`), the gateway's peak RSS
// while the job runs, and the latency of live calls during the job against the idle gateway.
// Usage: npm run bench:jobs [-- --lines 100000 --rounds 2 --live-rate 20]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIN,
  arg,
  fixedRate,
  gatewayOverFakeUpstream,
  machine,
  median,
  printTable,
  timed,
  saveResult,
} from './lib.mjs';

const LINES = arg('lines', 100_000);
const ROUNDS = arg('rounds', 2);
const LIVE_RATE = arg('live-rate', 20);
const DIMS = 384;

const dir = mkdtempSync(join(tmpdir(), 'embctl-bench-jobs-'));
const file = join(dir, 'corpus.txt');
writeFileSync(
  file,
  `${Array.from({ length: LINES }, (_, i) => `Document ${i}: a short sentence about topic ${i % 997} and item ${(i * 7919) % 100_003}.`).join('\n')}\n`,
);
const setup = await gatewayOverFakeUpstream(DIMS, 'bench');
const { gateway, apiKey } = setup;
const env = { ...process.env, EMBCTL_CONFIG_DIR: join(dir, 'cli-config'), CI: 'true' };
const connection = ['--url', gateway.url, '--api-key', apiKey, '-q'];
const cli = (args) => timed([BIN, ...args, ...connection], env);

/** The gateway's resident set, sampled every 100 ms until `stop()`: its peak in MB. */
function sampleRss(pid) {
  let peak = 0;
  const read = () => {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    peak = Math.max(peak, kb / 1024);
  };
  read();
  const timer = setInterval(read, 100);
  return () => {
    clearInterval(timer);
    read();
    return peak;
  };
}

const api = async (method, path, body) => {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
};

const live = (seconds) =>
  fixedRate(
    {
      url: `${gateway.url}/v1/embeddings`,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bench', input: 'a live query while the job runs' }),
    },
    { rate: LIVE_RATE, seconds, connections: 4 },
  );

/** One job: submitted with the CLI, timed from its creation to completed (polled every 50 ms), then downloaded. */
async function runJob(round) {
  const started = performance.now();
  const submitted = await timed(
    [BIN, 'jobs', 'submit', '-f', file, '--model', 'bench', ...connection, '-o', 'json'],
    env,
  );
  const id = JSON.parse(submitted.stdout).id;
  const created = performance.now();
  const peakRss = sampleRss(gateway.child.pid);
  let liveDuring;
  const liveRun = (async () => {
    // Live calls for as long as the job takes, in 2-second slices; the first slice's latencies count.
    liveDuring = await live(2);
  })();
  let batch;
  for (;;) {
    batch = await api('GET', `/v1/batches/${id}`);
    if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const ran = performance.now();
  const rss = peakRss();
  await liveRun;
  if (batch.status !== 'completed' || batch.request_counts.completed !== LINES)
    throw new Error(`job ${id} ended ${batch.status}: ${JSON.stringify(batch.request_counts)}`);
  await cli(['jobs', 'download', id, '--out', join(dir, `job-${round}.jsonl`), '--force']);
  const ended = performance.now();
  return {
    submitSeconds: (created - started) / 1000,
    downloadSeconds: (ended - ran) / 1000,
    runSeconds: (ran - created) / 1000,
    endToEndSeconds: (ended - started) / 1000,
    peakRssMb: rss,
    liveDuring,
  };
}

const idle = await live(4);
const jobs = [];
const embeds = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 ? ['job', 'embed'] : ['embed', 'job'];
  for (const who of order) {
    if (who === 'job') jobs.push(await runJob(round));
    else
      embeds.push(
        await cli(['embed', '-f', file, '--model', 'bench', '--out', join(dir, `embed-${round}.jsonl`), '--force']),
      );
  }
}
await setup.close();
rmSync(dir, { recursive: true, force: true });

const rate = (seconds) => Math.round(LINES / seconds);
const embedRate = rate(median(embeds.map((r) => r.seconds)));
const jobRun = rate(median(jobs.map((j) => j.runSeconds)));
const jobEndToEnd = rate(median(jobs.map((j) => j.endToEndSeconds)));
const duringP50 = median(jobs.map((j) => j.liveDuring.p50));
const result = {
  machine: machine(),
  lines: LINES,
  rounds: ROUNDS,
  embed_lines_per_s: embedRate,
  job_run_lines_per_s: jobRun,
  job_end_to_end_lines_per_s: jobEndToEnd,
  ratio_run: jobRun / embedRate,
  ratio_end_to_end: jobEndToEnd / embedRate,
  job_submit_s: median(jobs.map((j) => j.submitSeconds)),
  job_run_s: median(jobs.map((j) => j.runSeconds)),
  job_download_s: median(jobs.map((j) => j.downloadSeconds)),
  embed_s: median(embeds.map((r) => r.seconds)),
  gateway_peak_rss_mb: Math.max(...jobs.map((j) => j.peakRssMb)),
  live_p50_idle_ms: idle.p50,
  live_p50_during_job_ms: duringP50,
  live_p99_idle_ms: idle.p99,
  live_p99_during_job_ms: median(jobs.map((j) => j.liveDuring.p99)),
};
await saveResult('jobs', result);

console.log(
  `batch jobs vs embed -f · ${machine()} · ${LINES.toLocaleString('en-US')} lines, ${DIMS} dims, median of ${ROUNDS} ` +
    `alternating rounds\n`,
);
printTable([
  { run: 'embctl embed -f --out', 'lines/s': embedRate, 'vs embed': '1.00' },
  { run: 'job: created → completed', 'lines/s': jobRun, 'vs embed': (jobRun / embedRate).toFixed(2) },
  {
    run: 'job: submit + run + download --out',
    'lines/s': jobEndToEnd,
    'vs embed': (jobEndToEnd / embedRate).toFixed(2),
  },
]);
console.log(
  `\njob stages: submit ${result.job_submit_s.toFixed(1)} s, run ${result.job_run_s.toFixed(1)} s, download ` +
    `${result.job_download_s.toFixed(1)} s; embed -f ${result.embed_s.toFixed(1)} s`,
);
console.log(
  `gateway peak RSS while the job runs: ${Math.round(result.gateway_peak_rss_mb)} MB (target ≤ 200 MB)\n` +
    `live calls at ${LIVE_RATE}/s, 1 input: p50 ${idle.p50.toFixed(2)} ms idle, ${duringP50.toFixed(2)} ms during the ` +
    `job (p99 ${idle.p99.toFixed(2)} → ${result.live_p99_during_job_ms.toFixed(2)} ms)`,
);
