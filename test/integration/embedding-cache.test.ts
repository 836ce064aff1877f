/**
 * The per-input embedding cache against a fake upstream that records what it received: answers
 * equal the uncached ones in order (float and base64), each distinct input goes upstream once,
 * anything that changes the vector is a miss, scopes keep keys apart, and damaged entries are misses.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/core/tokenizer.js';
import { CACHE_FILE } from '../../src/store/sqlite/cache-database.js';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream } from '../fakes/upstream.js';
import { tempDir } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';

/** Each one cl100k token, as the fake counts it (a token a word): usage must then be exact per input. */
const WORDS = ['cat', 'dog', 'tree', 'blue', 'house', 'river', 'stone', 'light', 'green', 'bird', 'fish', 'rain'];

/** The vector depends on everything that should: model, dimensions, forwarded options, text. */
const vectorOf = (text: string, body: any) => {
  const { input, encoding_format, user, ...rest } = body;
  return fakeVector(`${JSON.stringify(rest)}|${text}`, body.dimensions ?? 8);
};

let gateway: InjectedGateway;
let cachedFake: FakeUpstream;
let plainFake: FakeUpstream;
let dataDir: string;

const entity = (id: string, url: string, extra: Record<string, unknown> = {}) => ({
  id,
  provider: 'openai',
  config: { connection: { base_url: `${url}/v1`, token: TOKEN }, options: { model: 'text-embedding-3-small' } },
  pricing: { input_per_million_tokens: 1000 },
  ...extra,
});

const admin = (method: string, path: string, body?: unknown) =>
  call(method, `${gateway.url}${path}`, { token: gateway.adminToken, ...(body === undefined ? {} : { body }) });

const embed = (body: Record<string, unknown>, options: { key?: string; headers?: Record<string, string> } = {}) =>
  call('POST', `${gateway.url}/v1/embeddings`, {
    token: options.key ?? gateway.apiKey,
    body,
    headers: options.headers,
  });

/** Texts the fake received, in order, over all its calls since `from`. */
const received = (fake: FakeUpstream, from = 0) =>
  fake.requests.slice(from).flatMap((r) => (Array.isArray(r.body.input) ? r.body.input : [r.body.input]));

/** Vectors as float32 values, whatever the encoding: what both answers must agree on bit for bit. */
const float32s = (data: { embedding: number[] | string }[]) =>
  data.map((d) =>
    typeof d.embedding === 'string'
      ? Array.from(new Float32Array(new Uint8Array(Buffer.from(d.embedding, 'base64')).buffer))
      : d.embedding.map(Math.fround),
  );

beforeAll(async () => {
  for (const word of WORDS) expect(countTextTokens(word)).toBe(1);
  cachedFake = await startFake(FORMATS.openai, 8, { vector: vectorOf });
  plainFake = await startFake(FORMATS.openai, 8, { vector: vectorOf });
  dataDir = tempDir('cache');
  gateway = await injectGateway({ dataDir });
  expect((await admin('POST', '/v1/embedding-models', entity('cached', cachedFake.url, { cache: {} }))).status).toBe(
    201,
  );
  expect((await admin('POST', '/v1/embedding-models', entity('plain', plainFake.url))).status).toBe(201);
});
afterAll(async () => {
  await gateway.close();
  await cachedFake.close();
  await plainFake.close();
});

describe('answers through the cache', () => {
  it('equal the uncached answers for random batches, in order, float and base64; each distinct input goes upstream once', async () => {
    const start = cachedFake.requests.length;
    const prefix = `p${Date.now()}-`;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 24 }),
        fc.constantFrom('float', 'base64'),
        async (words, encoding) => {
          const input = words.map((w) => prefix + w);
          const [viaCache, direct] = await Promise.all([
            embed({ model: 'cached', input, encoding_format: encoding }),
            embed({ model: 'plain', input, encoding_format: encoding }),
          ]);
          expect(viaCache.status).toBe(200);
          expect(viaCache.body.data.map((d: { index: number }) => d.index)).toEqual(input.map((_, i) => i));
          if (encoding === 'base64') expect(viaCache.body.data).toEqual(direct.body.data);
          else expect(float32s(viaCache.body.data)).toEqual(float32s(direct.body.data));
          expect(viaCache.body.usage).toEqual(direct.body.usage);
          expect(viaCache.body.model).toBe(direct.body.model);
          expect(viaCache.headers['x-embctl-cache']).toMatch(/^(hit|miss|partial); hits=\d+$/);
        },
      ),
      { numRuns: 60 },
    );
    const sent = received(cachedFake, start);
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.length).toBeLessThanOrEqual(WORDS.length);
  });

  it('says what happened, and the Request Log row counts inputs, tokens and cost saved', async () => {
    const first = await embed({ model: 'cached', input: ['alpha one', 'beta two three'] });
    expect(first.headers['x-embctl-cache']).toBe('miss; hits=0');
    const mixed = await embed({ model: 'cached', input: ['alpha one', 'gamma', 'beta two three', 'gamma'] });
    expect(mixed.headers['x-embctl-cache']).toBe('partial; hits=2');
    expect(mixed.body.usage.prompt_tokens).toBe(2 + 1 + 3 + 1);
    const all = await embed({ model: 'cached', input: ['gamma', 'beta two three'] });
    expect(all.headers['x-embctl-cache']).toBe('hit; hits=2');
    const rows = (await admin('GET', '/v1/request-logs?model=cached&limit=3')).body.data;
    const byId = (id: unknown) => rows.find((r: { id: unknown }) => r.id === id);
    const mixedRow = byId(mixed.headers['x-request-id']);
    // 'gamma' went upstream once; its repeat and the two hits did not.
    expect(mixedRow).toMatchObject({ input_count: 4, cached_inputs: 3, prompt_tokens: 7, cached_tokens: 6 });
    expect(mixedRow.cost_usd).toBeCloseTo(0.001, 9);
    expect(mixedRow.cost_saved_usd).toBeCloseTo(0.006, 9);
    expect(byId(all.headers['x-request-id'])).toMatchObject({ cached_inputs: 2, cached_tokens: 4, cost_usd: 0 });
    const usage = (await admin('GET', '/v1/usage?model=cached')).body.totals;
    expect(usage.cached_inputs).toBeGreaterThanOrEqual(5);
    expect(usage.cost_saved_usd).toBeGreaterThan(0);
    const metrics = (await gateway.app.inject({ url: '/metrics' })).body;
    const saved = (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*model="cached/[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(saved('embctl_cache_tokens_saved_total')).toBeGreaterThanOrEqual(6 + 4);
    expect(saved('embctl_cache_cost_saved_usd_total')).toBeGreaterThan(0);
  });
});

describe('what changes a vector is a miss', () => {
  it('other dimensions, changed options or another upstream model never get the old vectors', async () => {
    const text = `fingerprint ${Date.now()}`;
    const base = (await embed({ model: 'cached', input: text })).body.data[0].embedding;
    expect((await embed({ model: 'cached', input: text })).headers['x-embctl-cache']).toBe('hit; hits=1');

    const smaller = await embed({ model: 'cached', input: text, dimensions: 4 });
    expect(smaller.headers['x-embctl-cache']).toBe('miss; hits=0');
    expect(smaller.body.data[0].embedding).toHaveLength(4);

    const before = cachedFake.requests.length;
    const patched = await admin('PATCH', '/v1/embedding-models/cached', {
      config: { options: { model: 'text-embedding-3-small', user_tag: 'v2' } },
    });
    expect(patched.status).toBe(200);
    const changed = await embed({ model: 'cached', input: text });
    expect(changed.headers['x-embctl-cache']).toBe('miss; hits=0');
    expect(changed.body.data[0].embedding).not.toEqual(base);
    expect(changed.body.data[0].embedding).toEqual(vectorOf(text, { model: 'text-embedding-3-small', user_tag: 'v2' }));

    const other = await embed({ model: 'cached/text-embedding-3-large', input: text });
    expect(other.headers['x-embctl-cache']).toBe('miss; hits=0');
    expect(cachedFake.requests.length).toBe(before + 2);

    await admin('PATCH', '/v1/embedding-models/cached', {
      config: { options: { model: 'text-embedding-3-small', user_tag: null } },
    });
    expect((await embed({ model: 'cached', input: text })).headers['x-embctl-cache']).toBe('hit; hits=1');
  });

  it('an upstream answering another model than asked is not cached', async () => {
    const text = `drifted ${Date.now()}`;
    cachedFake.script({ model: 'text-embedding-3-small-v9' });
    const drifted = await embed({ model: 'cached', input: text });
    expect(drifted.body.model).toBe('text-embedding-3-small-v9');
    const before = cachedFake.requests.length;
    const next = await embed({ model: 'cached', input: text });
    expect(next.headers['x-embctl-cache']).toBe('miss; hits=0');
    expect(next.body.model).toBe('text-embedding-3-small');
    expect(cachedFake.requests.length).toBe(before + 1);
  });
});

describe('scope and directives', () => {
  it('scope "key" keeps two keys\' entries apart', async () => {
    await admin('POST', '/v1/embedding-models', entity('per-key', cachedFake.url, { cache: { scope: 'key' } }));
    const other = (await admin('POST', '/v1/api-keys', { name: `tenant-${Date.now()}` })).body.secret;
    const text = `private ${Date.now()}`;
    expect((await embed({ model: 'per-key', input: text })).headers['x-embctl-cache']).toBe('miss; hits=0');
    expect((await embed({ model: 'per-key', input: text })).headers['x-embctl-cache']).toBe('hit; hits=1');
    expect((await embed({ model: 'per-key', input: text }, { key: other })).headers['x-embctl-cache']).toBe(
      'miss; hits=0',
    );
    expect((await embed({ model: 'per-key', input: text }, { key: other })).headers['x-embctl-cache']).toBe(
      'hit; hits=1',
    );
  });

  it('skip neither reads nor writes; refresh embeds again and replaces; anything else is a 400 naming it', async () => {
    const text = `directive ${Date.now()}`;
    const before = cachedFake.requests.length;
    const skipped = await embed({ model: 'cached', input: text }, { headers: { 'x-embctl-cache': 'skip' } });
    expect(skipped.headers['x-embctl-cache']).toBe('skip');
    expect((await embed({ model: 'cached', input: text })).headers['x-embctl-cache']).toBe('miss; hits=0');
    const refreshed = await embed({ model: 'cached', input: text }, { headers: { 'x-embctl-cache': 'refresh' } });
    expect(refreshed.headers['x-embctl-cache']).toBe('refresh');
    expect((await embed({ model: 'cached', input: text })).headers['x-embctl-cache']).toBe('hit; hits=1');
    expect(cachedFake.requests.length).toBe(before + 3);

    const bad = await embed({ model: 'cached', input: text }, { headers: { 'x-embctl-cache': 'sometimes' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_cache_directive', param: 'x-embctl-cache' });
    expect(bad.body.error.message).toContain("'sometimes'");
    const off = await embed({ model: 'plain', input: text }, { headers: { 'x-embctl-cache': 'refresh' } });
    expect(off.headers['x-embctl-cache']).toBe('off');
  });
});

describe('the stored entries', () => {
  it('a damaged or truncated entry is a miss, never returned, and is deleted', async () => {
    const texts = [`torn ${Date.now()}`, `flipped ${Date.now()}`];
    await embed({ model: 'cached', input: texts });
    await gateway.close();
    const db = new Database(join(dataDir, CACHE_FILE));
    // Every stored entry damaged: half torn short, half the right length with other bytes.
    db.prepare('UPDATE embedding_cache SET vector = substr(vector, 1, 12) WHERE rowid % 2 = 0').run();
    db.prepare('UPDATE embedding_cache SET vector = zeroblob(dims * 4) WHERE rowid % 2 = 1').run();
    db.close();

    gateway = await injectGateway({ dataDir, adminToken: gateway.adminToken });
    gateway.apiKey = (await admin('POST', '/v1/api-keys', { name: `after-${Date.now()}` })).body.secret;
    const before = cachedFake.requests.length;
    const again = await embed({ model: 'cached', input: texts });
    expect(again.headers['x-embctl-cache']).toBe('miss; hits=0');
    expect(again.body.data.map((d: { embedding: number[] }) => d.embedding)).toEqual(
      texts.map((t) => vectorOf(t, { model: 'text-embedding-3-small' })),
    );
    expect(received(cachedFake, before)).toEqual(texts);
    const metrics = (await gateway.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^embctl_cache_damaged_total\{[^}]*\} 2$/m);
    expect(metrics).toMatch(/^embctl_cache_misses_total\{[^}]*\} 2$/m);
    const healed = await embed({ model: 'cached', input: texts });
    expect(healed.headers['x-embctl-cache']).toBe('hit; hits=2');
    expect(healed.body.data).toEqual(again.body.data);
  });
});
