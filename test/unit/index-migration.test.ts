/** The pure parts of a migration: the side-by-side verification, the alias file, the default destination. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HostProcess } from '../../src/cli/context.js';
import { AliasRegistry, isAliasName, pointed, resolveIndex } from '../../src/cli/index/aliases.js';
import { contentHash, siblingOf, type StoredRow } from '../../src/cli/index/target.js';
import { verifyMigration } from '../../src/cli/index/verify.js';
import { tempDir } from '../helpers/cli.js';

const row = (id: string, extra: Partial<StoredRow> = {}): StoredRow => ({
  id,
  text: `text of ${id}`,
  metadata: null,
  contentSha256: `hash-${id}`,
  model: 'new-model',
  dimensions: 256,
  ...extra,
});
async function* stream(rows: StoredRow[]) {
  yield* rows;
}
const expected = { model: 'new-model', dimensions: 256 };
const verify = (source: StoredRow[], target: StoredRow[]) => verifyMigration(stream(source), stream(target), expected);
const ids = (...names: string[]) => names.map((name) => row(name));

describe('verifyMigration', () => {
  it('passes the same records, in order, from the new model', async () => {
    expect(await verify(ids('a', 'b', 'c'), ids('a', 'b', 'c'))).toEqual({
      sourceRows: 3,
      targetRows: 3,
      hashed: 3,
      problems: [],
      failures: 0,
    });
  });

  it('names one missing record as missing, not every record after it as different', async () => {
    const checked = await verify(ids('a', 'b', 'c', 'd'), ids('a', 'c', 'd'));
    expect(checked.problems).toEqual([{ position: 1, id: 'b', problem: 'missing from the new index' }]);
    expect(checked.failures).toBe(1);
  });

  it('names records only the new index has, records in place of others, and a short tail', async () => {
    expect((await verify(ids('a', 'b'), ids('a', 'x', 'b'))).problems).toEqual([
      { position: 1, id: 'x', problem: 'in the new index only' },
    ]);
    expect((await verify(ids('a', 'b', 'c'), ids('a', 'z', 'c'))).problems).toEqual([
      { position: 1, id: 'b', problem: "the new index has 'z' in its place" },
    ]);
    expect((await verify(ids('a', 'b', 'c'), ids('a'))).problems.map((p) => p.id)).toEqual(['b', 'c']);
  });

  it('checks the content (texts, else hashes), the model and the dimensions of every vector', async () => {
    const checked = await verify(ids('a', 'b', 'c', 'd'), [
      row('a', { text: 'an edited text', contentSha256: 'other' }),
      row('b', { model: 'old-model' }),
      row('c', { dimensions: 384 }),
      row('d', { contentSha256: null }),
    ]);
    expect(checked.problems.map((p) => `${p.id}: ${p.problem}`)).toEqual([
      'a: embedded from another text (content hash differs)',
      "b: its vector is from 'old-model', not 'new-model'",
      'c: its vector has 384 dimensions, not 256',
    ]);
    expect(checked.hashed).toBe(4);
  });

  it('compares a text with a hash when one side kept only the hash, and cannot tell when neither kept either', async () => {
    const hashOnly = [row('a', { text: null, contentSha256: contentHash('text of a') })];
    expect((await verify(hashOnly, [row('a', { contentSha256: null })])).failures).toBe(0);
    expect((await verify(hashOnly, [row('a', { text: 'changed', contentSha256: null })])).problems[0]!.problem).toBe(
      'embedded from another text (content hash differs)',
    );
    const neither = await verify([row('a', { text: null, contentSha256: null })], [row('a', { contentSha256: null })]);
    expect(neither).toMatchObject({ failures: 0, hashed: 0 });
  });

  it('lists the first discrepancies and counts them all', async () => {
    const source = Array.from({ length: 50 }, (_, i) => row(`r${i}`));
    const target = source.map((r) => ({ ...r, dimensions: 3 }));
    const checked = await verifyMigration(stream(source), stream(target), expected, 5);
    expect(checked.problems).toHaveLength(5);
    expect(checked.failures).toBe(50);
  });
});

const host = (pid: number, alive: number[] = []): HostProcess =>
  ({
    pid,
    kill(other: number) {
      if (!alive.includes(other)) throw Object.assign(new Error('no such process'), { code: 'ESRCH' });
    },
  }) as unknown as HostProcess;

describe('AliasRegistry', () => {
  it('saves an alias whole (no temporary file left), resolves it, and lists aliases by name', () => {
    const registry = new AliasRegistry(join(tempDir('aliases'), 'indexes'));
    const at = '2026-12-02T00:00:00.000Z';
    registry.save({
      name: 'zeta',
      target: '/data/z.jsonl',
      history: [{ event: 'created', target: '/data/z.jsonl', at }],
    });
    registry.save({ name: 'alpha', target: 'sqlite:/data/a.db#v1', history: [] });
    expect(registry.list().map((a) => a.name)).toEqual(['alpha', 'zeta']);
    expect(readdirSync(registry.dir).sort()).toEqual(['alpha.json', 'zeta.json']);
    expect(resolveIndex('alpha', registry)).toMatchObject({ spec: 'sqlite:/data/a.db#v1' });
    expect(resolveIndex('vectors.jsonl', registry)).toEqual({ spec: 'vectors.jsonl' });
    expect(resolveIndex('beta', registry)).toEqual({ spec: 'beta' });
  });

  it('records a cutover: the new target, the previous one, the migration gone, the history kept', () => {
    const alias = {
      name: 'docs',
      target: 'old',
      migration: { to: 'new', model: 'm', started_at: 'then' },
      history: [{ event: 'created' as const, target: 'old', at: 'then' }],
    };
    const switched = pointed(alias, 'new', 'cutover', 'old');
    expect(switched).toMatchObject({ name: 'docs', target: 'new', previous: 'old' });
    expect(switched.migration).toBeUndefined();
    expect(switched.history.map((h) => `${h.event} ${h.target}`)).toEqual(['created old', 'cutover new']);
  });

  it('refuses an unreadable alias file by naming it', () => {
    const registry = new AliasRegistry(tempDir('aliases-bad'));
    writeFileSync(join(registry.dir, 'docs.json'), '{ half');
    expect(() => registry.get('docs')).toThrow(`the alias file ${join(registry.dir, 'docs.json')} is not valid JSON`);
  });

  it('locks a migration: a live holder is refused, a dead one (kill -9) taken over', () => {
    const registry = new AliasRegistry(tempDir('aliases-lock'));
    expect(() => registry.lock('docs', host(100))).toThrow("there is no index alias 'docs'");
    registry.save({ name: 'docs', target: '/data/docs.jsonl', history: [] });
    const release = registry.lock('docs', host(100));
    expect(readFileSync(join(registry.dir, 'docs.lock'), 'utf8')).toBe('100');
    expect(() => registry.lock('docs', host(200, [100]))).toThrow(
      "the index alias 'docs' is being migrated by process 100",
    );
    const takeover = registry.lock('docs', host(300));
    expect(readFileSync(join(registry.dir, 'docs.lock'), 'utf8')).toBe('300');
    takeover();
    expect(existsSync(join(registry.dir, 'docs.lock'))).toBe(false);
    release();
  });

  it('takes only plain names, so a file path or a target never reads as an alias', () => {
    expect(['docs', 'docs-prod', 'v_2'].every(isAliasName)).toBe(true);
    expect(['vectors.jsonl', 'sqlite:x.db', 'a/b', '', 'x'.repeat(65)].some(isAliasName)).toBe(false);
  });
});

describe('siblingOf', () => {
  it('puts the new index beside the old one, of the same kind', () => {
    expect(siblingOf('sqlite:/d/i.db#v1', 'docs-text-embedding-3-small')).toBe(
      'sqlite:/d/i.db#docs-text-embedding-3-small',
    );
    expect(siblingOf('lancedb:/d/lance#v1', 'docs-org/model:v2')).toBe('lancedb:/d/lance#docs-org-model-v2');
    expect(siblingOf('/d/vectors.jsonl', 'docs-small')).toBe('/d/docs-small.jsonl');
  });
});
