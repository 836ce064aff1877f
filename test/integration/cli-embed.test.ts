/** `embctl embed` and `search` end to end: the built CLI against the gateway and against a faulty upstream. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream } from '../fakes/upstream.js';
import { BIN, ROOT, isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';

let gateway: SpawnedGateway;
let fake: FakeUpstream;
let work: string;
const cli = (args: string[], input?: string) =>
  runCli(args, { env: gateway.env, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
/** The CLI pointed straight at the fake OpenAI-compatible server: no embctl gateway in between. */
const direct = (args: string[]) =>
  runCli([...args, '--url', `${fake.url}/v1`, '--api-key', TOKEN, '--model', 'bge-small'], {
    env: isolatedEnv(),
    timeoutMs: 60_000,
  });
const readJsonl = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string; text?: string; embedding: number[] | string });

beforeAll(async () => {
  gateway = await spawnGateway();
  fake = await startFake(FORMATS['openai-compatible']);
  work = tempDir('embed');
});
afterAll(async () => {
  await gateway.stop();
  await fake.close();
});

describe('inputs', () => {
  it('texts, stdin, text lines and paragraphs, JSONL, JSON, CSV, TSV and a document tree', async () => {
    const write = (name: string, content: string) => {
      const path = join(work, name);
      writeFileSync(path, content);
      return path;
    };
    const cases: [string[], string[], string?][] = [
      [
        ['embed', 'one', 'two'],
        ['0', '1'],
      ],
      [['embed', '-f', '-'], ['stdin:1', 'stdin:3'], 'alpha\n\nbeta\n'],
      [
        ['embed', '-f', write('p.txt', 'a\nb\n\nc\n'), '--split', 'paragraph'],
        [`${join(work, 'p.txt')}:1`, `${join(work, 'p.txt')}:4`],
      ],
      [
        [
          'embed',
          '-f',
          write('d.jsonl', '{"key":"k1","body":"first"}\n{"key":"k2","body":"second"}\n'),
          '--text-field',
          'body',
          '--id-field',
          'key',
        ],
        ['k1', 'k2'],
      ],
      [
        ['embed', '-f', write('d.json', '[{"id":"j1","text":"x"},{"id":"j2","text":"y"}]'), '--id-field', 'id'],
        ['j1', 'j2'],
      ],
      [
        [
          'embed',
          '-f',
          write('d.csv', 'ref,content\nc1,"quoted, text"\nc2,plain\n'),
          '--text-column',
          'content',
          '--id-column',
          'ref',
        ],
        ['c1', 'c2'],
      ],
      [['embed', '-f', write('d.tsv', 'text\nrow one\n'), '--format', 'tsv'], [`${join(work, 'd.tsv')}:2`]],
    ];
    for (const [args, ids, input] of cases) {
      const result = await cli([...args, '-o', 'json', '--dimensions', '8'], input);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(
        JSON.parse(result.stdout).data.map((d: { id: string }) => d.id),
        args.join(' '),
      ).toEqual(ids);
    }
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'guides'), { recursive: true });
    writeFileSync(join(tree, 'readme.md'), '# Read me');
    writeFileSync(join(tree, 'guides', 'start.md'), 'Getting started');
    writeFileSync(join(tree, 'skip.bin'), 'binary');
    const result = await cli(['embed', '--files', tree, '--glob', '**/*.md', '-o', 'ndjson', '--dimensions', '8']);
    expect(
      result.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual(['guides/start.md', 'readme.md']);
  });

  it('chunks long texts to the token budget, suffixing ids', async () => {
    const long = Array.from({ length: 300 }, (_, i) => `token${i}`).join(' ');
    const result = await cli([
      'embed',
      '-o',
      'json',
      '--chunk-tokens',
      '200',
      '--chunk-overlap',
      '20',
      '--dimensions',
      '8',
      long,
    ]);
    const ids = JSON.parse(result.stdout).data.map((d: { id: string }) => d.id);
    expect(ids.length).toBeGreaterThan(2);
    expect(ids).toEqual(ids.map((_: string, i: number) => `0#${i}`));
    expect((await cli(['embed', 'word '.repeat(9000)])).stderr).toContain('--chunk-tokens');
  });
});

describe('--out index', () => {
  it(
    'writes ordered, deduplicated records with a meta file; reruns are no-ops; search finds the ' + 'near-duplicate',
    async () => {
      const out = join(work, 'docs.jsonl');
      const source = join(work, 'docs.txt');
      writeFileSync(
        source,
        `${readFileSync(join(ROOT, 'examples/docs.txt'), 'utf8')}The quick brown fox jumps over the lazy dog.\n`,
      );
      const first = await cli(['embed', '-f', source, '--out', out]);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toContain('13 record(s) (1 reused from identical texts)');
      const records = readJsonl(out);
      expect(records.map((r) => r.id)).toEqual(Array.from({ length: 13 }, (_, i) => `${source}:${i + 1}`));
      expect(records[12]!.embedding).toEqual(records[0]!.embedding);
      expect(JSON.parse(readFileSync(`${out}.meta.json`, 'utf8'))).toMatchObject({
        format: 'embctl-embeddings',
        model: 'hash-384-v1',
        requested_model: 'local/hash-384-v1',
        dimensions: 384,
        records: 13,
        vector_format: 'float',
        text: true,
      });

      const again = await cli(['embed', '-f', source, '--out', out]);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain('nothing new to embed');
      expect(readJsonl(out)).toHaveLength(13);

      const found = await cli([
        'search',
        'a quick brown fox jumped over a lazy dog',
        '--index',
        out,
        '-k',
        '3',
        '-o',
        'json',
      ]);
      expect(found.code, found.stderr).toBe(0);
      const hits = JSON.parse(found.stdout);
      expect(hits[0].text).toBe('The quick brown fox jumps over the lazy dog.');
      expect(hits).toHaveLength(3);
      expect(hits[0].score).toBeGreaterThan(hits[2].score);
      const table = await cli(['search', 'central bank interest rates', '--index', out, '-k', '2', '-o', 'table']);
      expect(table.stdout).toMatch(/^1\s+0\.\d{4}\s+\S+docs\.txt:[34]\s+/m);
    },
  );

  it('stores base64 vectors bit-identical to the float ones, and can leave the text out', async () => {
    const floats = join(work, 'f.jsonl');
    const packed = join(work, 'b.jsonl');
    await cli(['embed', 'alpha beta', 'gamma delta', '--out', floats]);
    await cli(['embed', 'alpha beta', 'gamma delta', '--out', packed, '--vector-format', 'base64', '--no-text']);
    const a = readJsonl(floats);
    const b = readJsonl(packed);
    expect(b[0]).not.toHaveProperty('text');
    b.forEach((record, i) => {
      const bytes = Buffer.from(record.embedding as string, 'base64');
      expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))).toEqual(a[i]!.embedding);
    });
  });

  it('refuses to add another model or dimension to an index, unless --force replaces it', async () => {
    const out = join(work, 'pinned.jsonl');
    expect((await cli(['embed', 'first', '--out', out])).code).toBe(0);
    const other = await cli(['embed', 'second', '--out', out, '--dimensions', '64']);
    expect(other.code).toBe(5);
    expect(other.stderr).toContain('384-dimension');
    const replaced = await cli(['embed', 'second', '--out', out, '--dimensions', '64', '--force']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(readJsonl(out).map((r) => r.text)).toEqual(['second']);
    expect(JSON.parse(readFileSync(`${out}.meta.json`, 'utf8')).dimensions).toBe(64);
    expect((await cli(['search', 'second', '--index', out, '--model', 'some-other-model'])).code).toBe(2);
  });

  it('refuses another model up front (exit 5), before any request spends a token; the summary prices as the gateway does', async () => {
    const out = join(work, 'upfront.jsonl');
    await cli([
      'models',
      'create',
      '--provider',
      'local',
      '--id',
      'small-local',
      '--model',
      'hash-32-v1',
      '--price',
      '50',
    ]);
    expect((await cli(['embed', 'first one', '--out', out, '--model', 'small-local'])).code).toBe(0);
    const logsBefore = JSON.parse((await cli(['logs', 'list', '-o', 'json', '--limit', '1000'])).stdout).length;
    const refused = await cli(['embed', 'second', '--out', out, '--model', 'local']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('vectors of two models cannot share an index');
    expect(JSON.parse((await cli(['logs', 'list', '-o', 'json', '--limit', '1000'])).stdout).length).toBe(logsBefore);
    // $50 per million tokens at the entity, not the (unknown) list price of hash-32-v1.
    const priced = await cli(['embed', 'two words', '--out', out, '--model', 'small-local']);
    expect(priced.stderr).toContain('$0.000100');
  });

  it('warns when the model is not pinned to a version', async () => {
    await cli([
      'models',
      'create',
      '--provider',
      'openai-compatible',
      '--id',
      'floating',
      '--base-url',
      `${fake.url}/v1`,
      '--token',
      TOKEN,
      '--model',
      'latest-embedder',
    ]);
    const result = await cli(['embed', 'x', '--model', 'floating', '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("'latest-embedder-q8' is not a versioned model name");
  });
});

describe('against a faulty OpenAI-compatible server, directly', () => {
  const lines = (n: number, prefix = 'line') => Array.from({ length: n }, (_, i) => `${prefix} ${i} of the corpus`);

  it('retries 429s and 500s (honouring retry-after), rides out slow answers, and keeps order', async () => {
    const source = join(work, 'faults.txt');
    const texts = lines(60);
    writeFileSync(source, `${texts.join('\n')}\n`);
    fake.requests.length = 0;
    fake.script(
      { status: 429, headers: { 'retry-after-ms': '50' } },
      { status: 500 },
      { delayMs: 400 },
      { status: 503 },
      { status: 500 },
    );
    const out = join(work, 'faults.jsonl');
    const result = await direct(['embed', '-f', source, '--out', out, '--batch-size', '7', '--concurrency', '3', '-v']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/4 retries/);
    const records = readJsonl(out);
    expect(records.map((r) => r.text)).toEqual(texts);
    for (const [i, r] of records.entries()) expect(r.embedding).toEqual(fakeVector(texts[i]!));
  });

  it('stops at a mid-run model change, keeping only what came before it', async () => {
    const source = join(work, 'change.txt');
    writeFileSync(source, `${lines(40, 'change').join('\n')}\n`);
    fake.script({}, { model: 'some-other-model' });
    const out = join(work, 'change.jsonl');
    const result = await direct(['embed', '-f', source, '--out', out, '--batch-size', '10', '--concurrency', '1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("answered with model 'some-other-model' after 'bge-small-q8'");
    expect(readJsonl(out)).toHaveLength(10);
    // Rerun once the upstream behaves: it resumes from record 10.
    const resumed = await direct(['embed', '-f', source, '--out', out, '--batch-size', '10', '--concurrency', '1']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming: 10 record(s)');
    expect(readJsonl(out).map((r) => r.text)).toEqual(lines(40, 'change'));
  });

  it('resumes after kill -9 to a file identical to an uninterrupted run', async () => {
    const source = join(work, 'big.txt');
    writeFileSync(source, `${lines(1500, 'record').join('\n')}\n${lines(100, 'record').join('\n')}\n`);
    const args = (out: string) => [
      'embed',
      '-f',
      source,
      '--out',
      out,
      '--batch-size',
      '10',
      '--concurrency',
      '2',
      '--url',
      `${fake.url}/v1`,
      '--api-key',
      TOKEN,
      '--model',
      'bge-small',
    ];
    const reference = join(work, 'reference.jsonl');
    expect((await runCli(args(reference), { env: isolatedEnv(), timeoutMs: 60_000 })).code).toBe(0);

    fake.setDelay(20);
    const interrupted = join(work, 'interrupted.jsonl');
    const child = spawn(process.execPath, [BIN, ...args(interrupted)], {
      env: isolatedEnv(),
      cwd: ROOT,
      stdio: 'ignore',
    });
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 30_000;
      const poll = setInterval(() => {
        if (existsSync(interrupted) && statSync(interrupted).size > 200_000) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        } else if (Date.now() > deadline) {
          clearInterval(poll);
          reject(new Error('the run never got far enough to interrupt'));
        }
      }, 5);
    });
    await new Promise((resolve) => child.on('exit', resolve));
    fake.setDelay(0);
    const partial = readFileSync(interrupted, 'utf8');
    expect(partial.length).toBeLessThan(readFileSync(reference, 'utf8').length);

    const resumed = await runCli(args(interrupted), { env: isolatedEnv(), timeoutMs: 60_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming:');
    expect(readFileSync(interrupted, 'utf8')).toBe(readFileSync(reference, 'utf8'));
    // 1 500 distinct lines, the last 100 repeat the first 100: embedded once, written twice.
    expect(readJsonl(interrupted)).toHaveLength(1600);
  });

  it('refuses to resume when the input changed', async () => {
    const source = join(work, 'changing.txt');
    writeFileSync(source, `${lines(30, 'v1').join('\n')}\n`);
    const out = join(work, 'changing.jsonl');
    fake.script({}, { status: 400, body: { error: { message: 'stop here' } } });
    expect((await direct(['embed', '-f', source, '--out', out, '--batch-size', '10', '--concurrency', '1'])).code).toBe(
      1,
    );
    writeFileSync(source, `${lines(30, 'v2').join('\n')}\n`);
    const refused = await direct(['embed', '-f', source, '--out', out, '--batch-size', '10', '--concurrency', '1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the input differs from the interrupted run');
  });
});

describe('input that is not text', () => {
  it('refuses binary and non-UTF-8 input naming the file and line, and reads it with --encoding or --allow-invalid', async () => {
    const binary = join(work, 'random.bin');
    const bytes = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919 + 13) % 256));
    writeFileSync(binary, Buffer.concat([Buffer.from('fine first line\nsecond\n'), bytes]));
    const refused = await cli(['embed', '-f', binary, '--format', 'text']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`${binary}:3 (holds a NUL byte|has bytes that are not valid utf-8)`));
    expect(refused.stdout).toBe('');

    const latin1 = join(work, 'latin1.txt');
    writeFileSync(latin1, Buffer.from('ok line\ncafé au lait\n', 'latin1'));
    const notUtf8 = await cli(['embed', '-f', latin1]);
    expect(notUtf8.code).toBe(2);
    expect(notUtf8.stderr).toContain(`${latin1}:2 has bytes that are not valid utf-8`);
    expect(notUtf8.stderr).toContain('--encoding');

    const decoded = await cli(['embed', '-f', latin1, '--encoding', 'latin1', '-o', 'ndjson']);
    expect(decoded.code).toBe(0);
    expect(decoded.stdout).toContain('café au lait');
    const forced = await cli(['embed', '-f', latin1, '--allow-invalid', '-o', 'ndjson']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('caf\uFFFD au lait');
    expect((await cli(['embed', '-f', latin1, '--encoding', 'klingon'])).code).toBe(2);
  });
});

describe('piped output streams in every format', () => {
  it('prints the same documents as before, usage last, for a run with copies of earlier texts', async () => {
    const input = join(work, 'streamed.txt');
    writeFileSync(input, Array.from({ length: 1200 }, (_, i) => `streamed line ${i % 400}`).join('\n'));
    const json = await cli(['embed', '-f', input, '-o', 'json', '--batch-size', '100']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc.data).toHaveLength(1200);
    expect(doc.data[900].embedding).toEqual(doc.data[100].embedding);
    expect(Object.keys(doc)).toEqual(['model', 'dimensions', 'data', 'usage']);
    const yamlOut = await cli(['embed', '-f', input, '-o', 'yaml', '--batch-size', '100']);
    const parsed = (await import('yaml')).parse(yamlOut.stdout);
    expect(parsed.data).toHaveLength(1200);
    expect(parsed.usage.prompt_tokens).toBe(doc.usage.prompt_tokens);
    const table = await cli(['embed', 'one text', '-o', 'table']);
    expect(table.stdout).toMatch(/^ID +TEXT +FIRST VALUES\n0 +one text +/);
  });
});
