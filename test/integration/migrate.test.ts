/**
 * `embctl migrate` through the built CLI against a real gateway: a 384-dimension local index
 * re-embedded with a 256-dimension entity; `kill -9` and Ctrl-C mid-migration, then a rerun that
 * finishes it; queries issued all along answered by the old index until the cutover and by the new
 * one after, never a mix; `--rollback`; a new index missing a record is not cut over and the record
 * is named; `index list|info|prune`.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { rowsOf } from '../helpers/indexes.js';

let gateway: SpawnedGateway;
const dir = tempDir('migrate');
const cli = (args: string[]) => runCli(args, { env: gateway.env, timeoutMs: 90_000 });
const ok = async (args: string[]) => {
  const result = await cli(args);
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
};
const QUERY = 'record 4242 of the corpus';

/** The hits a search of `index` answers with, and the model the CLI says answered. */
async function answer(index: string) {
  const found = await ok(['search', '--index', index, QUERY, '-k', '5', '-o', 'json']);
  return {
    hits: JSON.parse(found.stdout) as { id: string; score: number }[],
    model: /\(([^)]+)\): loaded/.exec(found.stderr)?.[1],
  };
}

const aliasTarget = async (name: string) =>
  (JSON.parse((await ok(['index', 'info', name, '-o', 'json'])).stdout) as { index: string }).index;

function spawnMigrate(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'migrate', ...args], { env: gateway.env, cwd: ROOT, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited };
}

async function waitForRows(spec: string, rows: number, exited: Promise<unknown>) {
  let done = false;
  void exited.then(() => (done = true));
  for (const deadline = Date.now() + 60_000; (await rowsOf(spec)).length < rows; ) {
    if (done) throw new Error(`the migration ended before ${spec} held ${rows} rows`);
    if (Date.now() > deadline) throw new Error(`${spec} never held ${rows} rows`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const corpus = join(dir, 'corpus.jsonl');
const db = join(dir, 'indexes.db');
const source = `sqlite:${db}#v1`;

beforeAll(async () => {
  gateway = await spawnGateway();
  await ok([
    'models',
    'create',
    '--provider',
    'local',
    '--id',
    'small-256',
    '--model',
    'hash-256-v1',
    '--price',
    '0.5',
  ]);
  const records = Array.from({ length: 10_000 }, (_, i) =>
    JSON.stringify({ key: `doc-${i}`, text: `record ${i} of the corpus`, team: i % 2 ? 'search' : 'ads' }),
  );
  writeFileSync(corpus, `${records.join('\n')}\n`);
  await ok(['embed', '-f', corpus, '--id-field', 'key', '--metadata-field', 'team', '--out', source]);
  await ok(['index', 'alias', 'docs', source]);
  await ok(['index', 'alias', 'reference', source]);
}, 110_000);
afterAll(async () => {
  await gateway.stop();
});

describe('embctl migrate', () => {
  it('prints records, tokens and cost on --dry-run, embedding nothing', async () => {
    const planned = await ok(['migrate', 'docs', '--model', 'small-256', '--dry-run', '-o', 'json']);
    const plan = JSON.parse(planned.stdout) as Record<string, unknown>;
    expect(plan).toMatchObject({ alias: 'docs', from: source, to: `sqlite:${db}#docs-small-256`, records: 10_000 });
    expect(plan.estimated_tokens).toBeGreaterThan(10_000 * 4);
    expect(plan.estimated_cost_usd).toBeCloseTo(((plan.estimated_tokens as number) * 0.5) / 1e6, 9);
    expect(planned.stderr).toContain('dry run: nothing embedded');
    expect(await rowsOf(`sqlite:${db}#docs-small-256`)).toEqual([]);
  });

  it('resumes after kill -9 and Ctrl-C; queries see the old index until the cutover, the new one after, never a mix', async () => {
    const old = await answer('docs');
    expect(old.model).toBe('hash-384-v1');
    // The uninterrupted migration to compare with.
    await ok(['migrate', 'reference', '--model', 'small-256', '--to', `sqlite:${db}#reference-256`]);
    const expected = await rowsOf(`sqlite:${db}#reference-256`);
    expect(expected).toHaveLength(10_000);
    expect(expected[7]!.vector).toHaveLength(256);

    const target = `sqlite:${db}#docs-small-256`;
    const args = ['docs', '--model', 'small-256', '--batch-size', '20', '--concurrency', '1'];
    const answers: Awaited<ReturnType<typeof answer>>[] = [];
    let querying = true;
    const queries = (async () => {
      while (querying) answers.push(await answer('docs'));
    })();

    const killed = spawnMigrate(args);
    await waitForRows(target, 2000, killed.exited);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(await aliasTarget('docs')).toBe(source);

    const stopped = spawnMigrate(args);
    await waitForRows(target, 5000, stopped.exited);
    stopped.child.kill('SIGINT');
    expect(await stopped.exited).toBe(130);
    expect((await rowsOf(target)).length).toBeLessThan(10_000);
    expect(await aliasTarget('docs')).toBe(source);

    const finished = await ok(['migrate', ...args]);
    querying = false;
    await queries;
    expect(finished.stderr).toContain('resuming:');
    expect(finished.stderr).toContain('10,000 records verified (same ids and texts');
    expect(await aliasTarget('docs')).toBe(target);
    expect(await rowsOf(target)).toEqual(expected);

    const fresh = await answer('docs');
    expect(fresh.model).toBe('hash-256-v1');
    expect(fresh.hits[0]!.id).toBe('doc-4242');
    expect(answers.length).toBeGreaterThan(2);
    // Each answer is wholly the old index's or wholly the new one's, and once new, never old again.
    const kinds = answers.map((a) =>
      JSON.stringify(a) === JSON.stringify(old) ? 'old' : JSON.stringify(a) === JSON.stringify(fresh) ? 'new' : 'mixed',
    );
    expect(kinds).not.toContain('mixed');
    expect(kinds.join(' ')).toMatch(/^(old ?)*(new ?)*$/);

    await ok(['migrate', 'docs', '--rollback']);
    expect(await answer('docs')).toEqual(old);
    await ok(['migrate', 'docs', '--rollback']);
    expect(await answer('docs')).toEqual(fresh);

    const listed = JSON.parse((await ok(['index', 'list', '-o', 'json'])).stdout) as Record<string, unknown>[];
    expect(listed.find((a) => a.alias === 'docs')).toMatchObject({
      index: target,
      model: 'hash-256-v1',
      dimensions: 256,
      rows: 10_000,
      previous: source,
      migration: null,
    });
  }, 240_000);

  it('does not cut over a new index that misses a record, and names it', async () => {
    const target = `sqlite:${db}#checked`;
    await ok(['index', 'alias', 'checked', source]);
    const staged = await ok(['migrate', 'checked', '--model', 'small-256', '--to', target, '--no-cutover']);
    expect(staged.stderr).toContain("'checked' still points at");
    expect(await aliasTarget('checked')).toBe(source);
    const listed = JSON.parse((await ok(['index', 'list', '-o', 'json'])).stdout) as Record<string, any>[];
    expect(listed.find((a) => a.alias === 'checked')!.migration).toMatchObject({
      to: target,
      model: 'small-256',
      records: 10_000,
      of: 10_000,
    });

    const file = new Database(db);
    const position = (
      file.prepare('SELECT position FROM records_checked WHERE id = ?').get('doc-17') as {
        position: number;
      }
    ).position;
    file.prepare('DELETE FROM records_checked WHERE position = ?').run(position);
    file.close();

    const refused = await cli(['migrate', 'checked', '--model', 'small-256', '--to', target]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the migration of 'checked' did not verify, so 'checked' still points at");
    expect(refused.stderr).toContain("'doc-17' (record 18): missing from the new index");
    expect(refused.stderr).toContain('1 discrepancy');
    expect(refused.stderr).toContain('--force');
    expect(await aliasTarget('checked')).toBe(source);

    const other = await cli(['migrate', 'checked', '--model', 'hash-384-v1']);
    expect(other.code).toBe(5);
    expect(other.stderr).toContain(`'checked' is being migrated to ${target} with small-256`);

    await ok(['migrate', 'checked', '--model', 'small-256', '--to', target, '--force']);
    expect(await aliasTarget('checked')).toBe(target);
  }, 110_000);

  it('re-embeds an index that kept no text from its original source, and checks the texts', async () => {
    const lance = `lancedb:${join(dir, 'lance')}#notext`;
    await ok(['embed', '-f', corpus, '--id-field', 'key', '--no-text', '--out', lance]);
    await ok(['index', 'alias', 'notext', lance]);
    const noSource = await cli(['migrate', 'notext', '--model', 'small-256']);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toContain(`${lance} kept no text`);
    expect(noSource.stderr).toContain('-f FILE');

    const edited = join(dir, 'edited.jsonl');
    writeFileSync(
      edited,
      `${Array.from({ length: 10_000 }, (_, i) =>
        JSON.stringify({ key: `doc-${i}`, text: i === 99 ? 'an edited text' : `record ${i} of the corpus` }),
      ).join('\n')}\n`,
    );
    const changed = await cli(['migrate', 'notext', '--model', 'small-256', '-f', edited, '--id-field', 'key']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain("'doc-99' (record 100): embedded from another text (content hash differs)");
    await ok(['migrate', 'notext', '--abandon', '--yes']);

    const done = await ok(['migrate', 'notext', '--model', 'small-256', '-f', corpus, '--id-field', 'key']);
    expect(done.stderr).toContain('10,000 records verified (same ids and texts');
    const rows = await rowsOf(await aliasTarget('notext'));
    expect(rows).toHaveLength(10_000);
    expect(rows[0]).toMatchObject({ id: 'doc-0', text: null });
  }, 110_000);

  it('names what is wrong: no alias, no model, the index itself, a taken --to; prune removes the old index', async () => {
    const notAlias = await cli(['migrate', source, '--model', 'small-256']);
    expect(notAlias.code).toBe(4);
    expect(notAlias.stderr).toContain(`there is no index alias '${source}'`);
    expect(notAlias.stderr).toContain(`embctl index alias docs ${source}`);
    const noModel = await cli(['migrate', 'docs']);
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toContain('embctl migrate docs --model MODEL');
    const itself = await cli(['migrate', 'docs', '--model', 'hash-384-v1', '--to', await aliasTarget('docs')]);
    expect(itself.code).toBe(2);
    expect(itself.stderr).toContain('a migration writes a separate index');
    const taken = await cli(['migrate', 'docs', '--model', 'hash-384-v1', '--to', `sqlite:${db}#reference-256`]);
    expect(taken.code).toBe(5);
    expect(taken.stderr).toContain('already holds an index');
    const badName = await cli(['index', 'alias', 'a/b', source]);
    expect(badName.code).toBe(2);

    const kept = await ok(['index', 'prune', 'docs', '--yes']);
    expect(kept.stderr).toContain(
      `kept ${source}: alias 'checked' rolls back to it; alias 'reference' rolls back to it`,
    );
    expect(await rowsOf(source)).toHaveLength(10_000);
    await ok(['index', 'unalias', 'reference']);
    await ok(['index', 'unalias', 'checked']);
    await ok(['index', 'unalias', 'notext']);
    const unconfirmed = await cli(['index', 'prune', 'docs']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('pass --yes');
    const pruned = await ok(['index', 'prune', 'docs', '--yes']);
    expect(pruned.stderr).toContain("pruned 1 index(es) of 'docs'");
    expect(await rowsOf(source)).toEqual([]);
    const noRollback = await cli(['migrate', 'docs', '--rollback']);
    expect(noRollback.code).toBe(5);
    expect(noRollback.stderr).toContain('no earlier index to roll back to');
    expect(existsSync(db)).toBe(true);
  }, 60_000);
});
