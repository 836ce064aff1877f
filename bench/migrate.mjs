#!/usr/bin/env node
// `embctl migrate` against `embctl embed -f` writing the same records with the same model into the
// same kind of index, alternating in one run, same gateway (local provider: hash-384-v1 source
// index, a 256-dimension entity as the new model). Migrate's time includes reading the old index,
// the atomic cutover and the side-by-side verification. Per target: records/s of each and the ratio.
// Usage: npm run bench:migrate [-- --records 100000 --rounds 2 --targets sqlite,lancedb,jsonl]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, arg, machine, median, printTable, saveResult, startServer, stop, timed } from './lib.mjs';

const RECORDS = arg('records', 100_000);
const ROUNDS = arg('rounds', 2);
const targetsArg = process.argv.indexOf('--targets');
const TARGETS = targetsArg === -1 ? ['sqlite', 'lancedb', 'jsonl'] : process.argv[targetsArg + 1].split(',');

const dir = mkdtempSync(join(tmpdir(), 'embctl-bench-migrate-'));
const env = {
  ...process.env,
  EMBCTL_CONFIG_DIR: join(dir, 'config'),
  EMBCTL_DATA_DIR: join(dir, 'data'),
  CI: 'true',
};
const corpus = join(dir, 'corpus.jsonl');
writeFileSync(
  corpus,
  `${Array.from({ length: RECORDS }, (_, i) =>
    JSON.stringify({
      id: `doc-${i}`,
      text: `Document ${i}: a short sentence about topic ${i % 997} and item ${(i * 7919) % 100_003}.`,
    }),
  ).join('\n')}\n`,
);
const spec = (kind, name) =>
  kind === 'sqlite'
    ? `sqlite:${join(dir, 'indexes.db')}#${name}`
    : kind === 'lancedb'
      ? `lancedb:${join(dir, 'lance')}#${name}`
      : join(dir, `${name}.jsonl`);

const gateway = await startServer([BIN, 'gateway', 'start', '--port', '0'], env);
const cli = (args) => timed([BIN, ...args, '-q'], env);
await cli(['models', 'create', '--provider', 'local', '--id', 'next-256', '--model', 'hash-256-v1']);
const batching = ['--batch-size', '128', '--concurrency', '4'];

const results = [];
for (const kind of TARGETS) {
  await cli(['embed', '-f', corpus, '--id-field', 'id', '--model', 'hash-384-v1', '--out', spec(kind, 'source')]);
  const embedRates = [];
  const migrateRates = [];
  for (let round = 0; round < ROUNDS; round++) {
    const embedded = await cli([
      'embed',
      '-f',
      corpus,
      '--id-field',
      'id',
      '--model',
      'next-256',
      '--out',
      spec(kind, `embed-${round}`),
      ...batching,
    ]);
    embedRates.push(RECORDS / embedded.seconds);
    await cli(['index', 'alias', `m-${kind}-${round}`, spec(kind, 'source')]);
    const migrated = await cli([
      'migrate',
      `m-${kind}-${round}`,
      '--model',
      'next-256',
      '--to',
      spec(kind, `migrated-${round}`),
      ...batching,
    ]);
    migrateRates.push(RECORDS / migrated.seconds);
    console.error(
      `${kind} round ${round + 1}: embed -f ${Math.round(embedRates.at(-1))}/s, migrate ${Math.round(migrateRates.at(-1))}/s`,
    );
  }
  const embedRate = median(embedRates);
  const migrateRate = median(migrateRates);
  results.push({ target: kind, embed_per_s: embedRate, migrate_per_s: migrateRate, ratio: migrateRate / embedRate });
}
await stop(gateway.child);
rmSync(dir, { recursive: true, force: true });

await saveResult('migrate', { machine: machine(), records: RECORDS, rounds: ROUNDS, results });
console.log(
  `migrate vs embed -f · ${machine()} · ${RECORDS.toLocaleString('en-US')} records, hash-384-v1 → a 256-dimension ` +
    `local entity, median of ${ROUNDS} alternating rounds\n`,
);
printTable(
  results.map((r) => ({
    target: r.target,
    'embed -f records/s': Math.round(r.embed_per_s),
    'migrate records/s': Math.round(r.migrate_per_s),
    'migrate / embed': r.ratio.toFixed(2),
  })),
);
console.log('\ntarget: migrate ≥ 0.90 of embed -f (migrate includes reading the old index and verifying)');
