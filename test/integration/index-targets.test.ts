/**
 * Every index target behaves the same through the built CLI: `kill -9` mid-run and a rerun give
 * what an uninterrupted run gives; copies of a text reuse its vector; another model is refused
 * (exit 5); a near-duplicate is found first; `--where` filters on metadata carried from the source.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { BIN, ROOT, isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { rowsOf } from '../helpers/indexes.js';
import { openTarget } from '../../src/cli/index/target.js';

const TARGETS = {
  jsonl: (dir: string, name: string) => join(dir, `${name}.jsonl`),
  sqlite: (dir: string, name: string) => `sqlite:${join(dir, 'indexes.db')}#${name}`,
  lancedb: (dir: string, name: string) => `lancedb:${join(dir, 'lance')}#${name}`,
};

let gateway: SpawnedGateway;
let fake: FakeUpstream;
const cli = (args: string[]) => runCli(args, { env: gateway.env, timeoutMs: 60_000 });

beforeAll(async () => {
  gateway = await spawnGateway();
  fake = await startFake(FORMATS['openai-compatible']);
  expect(
    (await cli(['models', 'create', '--provider', 'local', '--id', 'small-local', '--model', 'hash-32-v1'])).code,
  ).toBe(0);
}, 30_000);
afterAll(async () => {
  await gateway.stop();
  await fake.close();
});

describe.each(Object.entries(TARGETS))('the %s target', (_name, specOf) => {
  const dir = tempDir(`target-${_name}`);

  it('after kill -9 mid-run, a rerun gives what an uninterrupted run gives; copies reuse the vector', async () => {
    const source = join(dir, 'corpus.jsonl');
    // More than one LanceDB write (8 192 rows): the kill comes after some rows are written, before the rest.
    const records = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({ key: `doc-${i}`, text: `record ${i % 19_500} of the corpus`, team: i % 3 ? 'search' : 'ads' }),
    );
    writeFileSync(source, `${records.join('\n')}\n`);
    const args = (out: string) => [
      'embed',
      '-f',
      source,
      '--id-field',
      'key',
      '--metadata-field',
      'team',
      '--out',
      out,
      '--batch-size',
      '100',
      '--concurrency',
      '2',
      '--url',
      `${fake.url}/v1`,
      '--api-key',
      TOKEN,
      '--model',
      'bge-small',
    ];
    const reference = specOf(dir, 'reference');
    expect((await runCli(args(reference), { env: isolatedEnv(), timeoutMs: 60_000 })).code).toBe(0);
    const expected = await rowsOf(reference);
    expect(expected).toHaveLength(20_000);
    expect(expected[19_500]!.vector).toEqual(expected[0]!.vector);
    expect(expected[1]).toMatchObject({ id: 'doc-1', text: 'record 1 of the corpus', metadata: { team: 'search' } });

    fake.setDelay(15);
    const interrupted = specOf(dir, 'interrupted');
    const child = spawn(process.execPath, [BIN, ...args(interrupted)], {
      env: isolatedEnv(),
      cwd: ROOT,
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Rows are visible a moment before the checkpoint that names them is saved; a kill in between
    // rightly re-embeds them all, but this test is about resuming, so it waits for the checkpoint.
    const target = await openTarget(interrupted);
    const resumable = async () => (await rowsOf(interrupted)).length >= 8192 && (target.checkpoint()?.records ?? 0) > 0;
    for (const deadline = Date.now() + 30_000; !(await resumable()); ) {
      if (Date.now() > deadline) throw new Error('the run never got far enough to interrupt');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    fake.setDelay(0);
    expect((await rowsOf(interrupted)).length).toBeLessThan(20_000);

    const resumed = await runCli(args(interrupted), { env: isolatedEnv(), timeoutMs: 60_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming:');
    expect(await rowsOf(interrupted)).toEqual(expected);
  });

  it('refuses vectors of another model (exit 5), finds a near-duplicate first, and filters with --where', async () => {
    const source = join(dir, 'docs.jsonl');
    const docs = [
      { id: 'fox', text: 'the quick brown fox jumps over the lazy dog', lang: 'en' },
      { id: 'keys', text: 'rotate API keys every ninety days', lang: 'en' },
      { id: 'renard', text: 'le renard brun saute par-dessus le chien paresseux', lang: 'fr' },
      { id: 'cles', text: 'changer les clés tous les quatre-vingt-dix jours', lang: 'fr' },
    ];
    writeFileSync(source, `${docs.map((d) => JSON.stringify(d)).join('\n')}\n`);
    const out = specOf(dir, 'docs-index');
    const made = await cli(['embed', '-f', source, '--id-field', 'id', '--metadata-field', 'lang', '--out', out]);
    expect(made.code, made.stderr).toBe(0);

    const refused = await cli(['embed', 'one more text', '--model', 'small-local', '--out', out]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain(out);
    expect(refused.stderr).toContain('vectors of two models cannot share an index');
    expect(await rowsOf(out)).toHaveLength(4);

    const search = async (...args: string[]) => {
      const found = await cli(['search', '--index', out, ...args, '-o', 'json']);
      expect(found.code, found.stderr).toBe(0);
      expect(found.stderr).not.toMatch(/WARN|warning/);
      return JSON.parse(found.stdout) as { id: string; score: number; metadata?: { lang: string } }[];
    };
    const near = await search('the quick brown fox jumped over a lazy dog');
    expect(near[0]!.id).toBe('fox');
    expect(near.map((h) => h.score)).toEqual([...near.map((h) => h.score)].sort((a, b) => b - a));
    const french = await search('the quick brown fox jumped over a lazy dog', '--where', 'lang=fr');
    expect(french.map((h) => h.id).sort()).toEqual(['cles', 'renard']);
    expect(french.every((h) => h.metadata?.lang === 'fr')).toBe(true);
    expect(await search('anything', '--where', 'lang=de')).toEqual([]);
    const exact = await search('the quick brown fox jumped over a lazy dog', '--exact', '-k', '2');
    expect(exact.map((h) => h.id)).toEqual(near.slice(0, 2).map((h) => h.id));
    const bad = await cli(['search', '--index', out, 'x', '--where', 'lang']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--where takes field=value; got 'lang'");
  });
});

describe('sqlite: collections', () => {
  it('holds several collections of different models in one file, each with its own meta', async () => {
    const dir = tempDir('collections');
    const file = join(dir, 'many.db');
    expect((await cli(['embed', 'alpha', 'beta', '--out', `sqlite:${file}#big`])).code).toBe(0);
    expect((await cli(['embed', 'gamma', '--model', 'small-local', '--out', `sqlite:${file}#small`])).code).toBe(0);
    expect((await rowsOf(`sqlite:${file}#big`)).map((r) => r.vector.length)).toEqual([384, 384]);
    expect((await rowsOf(`sqlite:${file}#small`)).map((r) => r.vector.length)).toEqual([32]);
    const wrong = await cli(['search', '--index', `sqlite:${file}#no such`, 'x']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('is not a collection name');
    const missing = await cli(['search', '--index', `sqlite:${file}#absent`, 'x']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain(`no index at 'sqlite:${file}#absent'`);
    writeFileSync(join(dir, 'not-sqlite.db'), 'just text\n');
    const foreign = await cli(['embed', 'x', '--out', `sqlite:${join(dir, 'not-sqlite.db')}`]);
    expect(foreign.code).toBe(5);
    expect(foreign.stderr).toContain('is not an embctl index');
  });
});
