/**
 * `embctl jobs …` through the built CLI against a spawned gateway: a corpus submitted as a job and
 * downloaded is the index `embed --out` writes, byte for byte; ids come from the same options as
 * `embed`; a cancelled job's partial output and errors are downloadable; Ctrl-C stops waiting and
 * leaves the job running; another key sees nothing.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { BIN, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, createOpenAiEntity } from '../helpers/http.js';

let gateway: SpawnedGateway;
let slow: FakeUpstream;
const dir = tempDir('jobs');
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { env: { ...gateway.env, ...env }, timeoutMs: 60_000 });
const json = async (args: string[]) => {
  const result = await cli([...args, '-o', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
};
const withoutTimes = (path: string) => {
  const { created_at, updated_at, ...meta } = JSON.parse(readFileSync(path, 'utf8'));
  return meta;
};

beforeAll(async () => {
  gateway = await spawnGateway();
  slow = await startFake(FORMATS.openai);
  slow.setDelay(2000);
  await createOpenAiEntity(gateway.url, gateway.adminToken, 'slow', slow.url);
}, 30_000);
afterAll(async () => {
  await gateway.stop();
  await slow.close();
});

describe('jobs submit, wait, download', () => {
  it('a text corpus as a job gives the very index `embed --out` writes; search reads it; its calls are tagged', async () => {
    const corpus = join(dir, 'corpus.txt');
    writeFileSync(
      corpus,
      `${Array.from({ length: 700 }, (_, i) => `line of the corpus number ${i % 650}`).join('\n')}\n`,
    );
    const submitted = await cli(['jobs', 'submit', '-f', corpus, '--model', 'local', '--wait']);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stderr).toMatch(/completed: 700 line\(s\) embedded/);
    const id = JSON.parse(submitted.stdout).id as string;
    expect(id).toMatch(/^batch_/);

    const viaJob = join(dir, 'job.jsonl');
    const viaEmbed = join(dir, 'embed.jsonl');
    const downloaded = await cli(['jobs', 'download', id, '--out', viaJob]);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect((await cli(['embed', '-f', corpus, '--model', 'local', '--out', viaEmbed])).code).toBe(0);
    expect(readFileSync(viaJob, 'utf8')).toBe(readFileSync(viaEmbed, 'utf8'));
    expect(withoutTimes(`${viaJob}.meta.json`)).toEqual(withoutTimes(`${viaEmbed}.meta.json`));

    const hits = await json(['search', '--index', viaJob, 'line of the corpus number 42', '-k', '1']);
    expect(hits[0].id).toBe(`${corpus}:43`);

    const job = await json(['jobs', 'get', id]);
    expect(job).toMatchObject({ status: 'completed', request_counts: { total: 700, completed: 700, failed: 0 } });
    expect(job.metadata).toMatchObject({ created_by: 'embctl jobs submit', model: 'local', source: corpus });
    expect((await json(['jobs', 'list'])).map((b: { id: string }) => b.id)).toContain(id);
    const logged = await json(['logs', 'list', '--batch', id, '--limit', '100']);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.every((row: { batch_id: string; status: number }) => row.batch_id === id && row.status === 200)).toBe(
      true,
    );
    expect(logged.reduce((n: number, row: { input_count: number }) => n + row.input_count, 0)).toBe(700);

    // Downloaded again over itself: the same file, not twice the records.
    expect((await cli(['jobs', 'download', id, '--out', viaJob])).code).toBe(0);
    expect(readFileSync(viaJob, 'utf8')).toBe(readFileSync(viaEmbed, 'utf8'));
  });

  it('CSV and JSONL ids come from --id-column / --id-field; a repeated id is refused before anything is sent', async () => {
    const csv = join(dir, 'docs.csv');
    writeFileSync(csv, 'doc,body\nd-1,"first, with a comma"\nd-2,second\n');
    const fromCsv = await cli(['jobs', 'submit', '-f', csv, '--id-column', 'doc', '--text-column', 'body', '--wait']);
    expect(fromCsv.code, fromCsv.stderr).toBe(0);
    const out = join(dir, 'csv.jsonl');
    expect((await cli(['jobs', 'download', JSON.parse(fromCsv.stdout).id, '--out', out])).code).toBe(0);
    expect(
      readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual(['d-1', 'd-2']);

    const before = (await json(['jobs', 'list'])).length;
    const jsonl = join(dir, 'dup.jsonl');
    writeFileSync(jsonl, '{"k":"same","text":"a"}\n{"k":"same","text":"b"}\n');
    const refused = await cli(['jobs', 'submit', '-f', jsonl, '--id-field', 'k']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("the id 'same' is given to more than one record");
    expect(refused.stderr).toContain('--id-field');
    expect((await json(['jobs', 'list'])).length).toBe(before);
    const missing = await cli(['jobs', 'submit', '-f', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("input file '");
  });
});

describe('a job that does not complete', () => {
  it('cancelled: wait says so (exit 1); download needs --partial, and --errors writes nothing when no line failed', async () => {
    const corpus = join(dir, 'slow.txt');
    // 12 calls of 256 lines, 4 at a time, 2 s each: the job runs for about 6 s.
    writeFileSync(corpus, `${Array.from({ length: 3000 }, (_, i) => `slow text ${i}`).join('\n')}\n`);
    const submitted = await cli(['jobs', 'submit', '-f', corpus, '--model', 'slow']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = JSON.parse(submitted.stdout).id as string;
    for (const until = Date.now() + 20_000; ; ) {
      if ((await json(['jobs', 'get', id])).request_counts.completed > 0) break;
      if (Date.now() > until) throw new Error('no line of the job ran');
      await new Promise((r) => setTimeout(r, 100));
    }
    const running = await cli(['jobs', 'download', id, '--out', join(dir, 'early.jsonl')]);
    if (running.code !== 5)
      expect(running.stderr).toContain('is completed'); // it was fast after all
    else expect(running.stderr).toContain('wait for it with `embctl jobs wait');

    const cancelled = await cli(['jobs', 'cancel', id]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stderr).toMatch(/cancell/);
    const waited = await cli(['jobs', 'wait', id]);
    expect(waited.code).toBe(1);
    expect(waited.stderr).toMatch(new RegExp(`job ${id} cancelled: [\\d,]+ of 3,000 line\\(s\\) embedded`));
    expect(waited.stderr).toContain('--partial');

    const out = join(dir, 'partial.jsonl');
    const refused = await cli(['jobs', 'download', id, '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('pass --partial');
    const partial = await cli([
      'jobs',
      'download',
      id,
      '--out',
      out,
      '--partial',
      '--errors',
      join(dir, 'errors.jsonl'),
    ]);
    expect(partial.code, partial.stderr).toBe(0);
    const { completed } = (await json(['jobs', 'get', id])).request_counts;
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(completed);
    expect(JSON.parse(lines[0]!)).toMatchObject({ id: `${corpus}:1`, text: 'slow text 0' });
    expect(partial.stderr).toContain('without a vector left out');
    expect(readFileSync(join(dir, 'errors.jsonl'), 'utf8')).toBe('');
  });

  it('Ctrl-C stops waiting (exit 130) and the job goes on in the gateway', async () => {
    const corpus = join(dir, 'ctrl-c.txt');
    writeFileSync(corpus, `${Array.from({ length: 2000 }, (_, i) => `interrupted wait ${i}`).join('\n')}\n`);
    const submitted = await cli(['jobs', 'submit', '-f', corpus, '--model', 'slow']);
    const id = JSON.parse(submitted.stdout).id as string;
    const child = spawn(process.execPath, [BIN, 'jobs', 'wait', id], { env: gateway.env, cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain(`stopped waiting for ${id}; the job goes on in the gateway`);
    expect((await json(['jobs', 'get', id])).status).toBe('in_progress');
    expect((await cli(['jobs', 'cancel', id])).code).toBe(0);
  });
});

describe('tenancy', () => {
  it("another key's jobs are not found (exit 4), and it lists none of them", async () => {
    const other = await call('POST', `${gateway.url}/v1/api-keys`, {
      token: gateway.adminToken,
      body: { name: 'someone-else' },
    });
    const env = { EMBCTL_API_KEY: other.body.secret as string };
    const mine = (await json(['jobs', 'list']))[0].id as string;
    const seen = await cli(['jobs', 'get', mine, '-o', 'json'], env);
    expect(seen.code).toBe(4);
    expect(seen.stderr).toContain(`No batch found with id '${mine}'`);
    expect((await cli(['jobs', 'cancel', mine], env)).code).toBe(4);
    expect((await cli(['jobs', 'download', mine, '--out', join(dir, 'theirs.jsonl')], env)).code).toBe(4);
    const listed = await cli(['jobs', 'list', '-o', 'json'], env);
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});
