#!/usr/bin/env node
// `embctl embed -f` throughput against a fast fake upstream, side by side with the minimal loop
// (same batch size and concurrency) in the same run, alternating; then peak RSS on a 200 000-line
// file. Usage: npm run bench:embed [-- --lines 50000 --rounds 3 --big 200000]
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, arg, machine, median, printTable, startServer, stop, timed } from './lib.mjs';
const LINES = arg('lines', 100_000);
const ROUNDS = arg('rounds', 5);
const BIG = arg('big', 200_000);
const BATCH = 128;
const CONCURRENCY = 4;
const DIMS = 384;

const dir = mkdtempSync(join(tmpdir(), 'embctl-bench-'));
const corpus = (n) =>
  `${Array.from(
    { length: n },
    (_, i) =>
      ` +
    ``Document ${i}: a short sentence about topic ${i % 997} and item ${(i * 7919) % 100_003}.`,
  ).join('\n')}\n`;
const file = join(dir, 'corpus.txt');
writeFileSync(file, corpus(LINES));

const upstream = await startServer(['bench/fake-upstream.mjs', String(DIMS)]);
const env = { ...process.env, EMBCTL_CONFIG_DIR: join(dir, 'config'), EMBCTL_DATA_DIR: join(dir, 'data'), CI: 'true' };
const embctlArgs = (input, out) => [
  BIN,
  'embed',
  '-f',
  input,
  '--out',
  out,
  '--force',
  '--url',
  upstream.url,
  '--api-key',
  'bench',
  '--model',
  'bench-v1',
  '--batch-size',
  String(BATCH),
  '--concurrency',
  String(CONCURRENCY),
  '-q',
];

const results = { embctl: [], minimal: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const who of round % 2 ? ['minimal', 'embctl'] : ['embctl', 'minimal']) {
    const out = join(dir, `${who}.jsonl`);
    const run =
      who === 'embctl'
        ? await timed(embctlArgs(file, out), env)
        : await timed(
            ['bench/minimal-embed-loop.mjs', upstream.url, file, out, String(BATCH), String(CONCURRENCY)],
            env,
          );
    results[who].push(run);
  }
}
const perSecond = (runs) => LINES / median(runs.map((r) => r.seconds));
const embctlRate = perSecond(results.embctl);
const ceiling = perSecond(results.minimal);

const bigFile = join(dir, 'big.txt');
writeFileSync(bigFile, corpus(BIG));
const big = await timed(embctlArgs(bigFile, join(dir, 'big.jsonl')), env);
await stop(upstream.child);
rmSync(dir, { recursive: true, force: true });

console.log(
  `embed -f benchmark · ${machine()} · ${LINES} lines, ${DIMS} dims, batch ${BATCH}, concurrency ${CONCURRENCY}, ` +
    `median of ${ROUNDS} alternating rounds\n`,
);
printTable([
  {
    client: 'embctl embed -f --out',
    'records/s': Math.round(embctlRate),
    'peak RSS MB': Math.round(median(results.embctl.map((r) => r.peakRssMb))),
  },
  {
    client: 'minimal loop (ceiling)',
    'records/s': Math.round(ceiling),
    'peak RSS MB': Math.round(median(results.minimal.map((r) => r.peakRssMb))),
  },
]);
console.log(`\nratio embctl / ceiling: ${(embctlRate / ceiling).toFixed(2)} (target ≥ 0.90)`);
console.log(
  `${BIG.toLocaleString('en-US')}-line file: ${big.seconds.toFixed(1)} s, peak RSS ${Math.round(big.peakRssMb)} MB ` +
    `(target < 200 MB)`,
);
