/**
 * OpenAI's Batch API for /v1/embeddings with the official SDK as the client, run by the gateway
 * itself: a job's vectors equal live calls (float and base64), bad input files fail before any
 * token is spent with each line named, another key sees nothing, a cancel stops the job with
 * its partial output, and a key's limits make the job wait while live calls keep being answered.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { call, createOpenAiEntity, embeddingsCall } from '../helpers/http.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';

let gateway: InjectedGateway;
let client: OpenAI;
let url: string;
let slow: FakeUpstream;

const lineOf = (id: string, body: Record<string, unknown>) =>
  JSON.stringify({ custom_id: id, method: 'POST', url: '/v1/embeddings', body });
const upload = async (sdk: OpenAI, lines: string[]) =>
  sdk.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), 'in.jsonl'), purpose: 'batch' });
const untilDone = async (sdk: OpenAI, id: string, timeoutMs = 30_000) => {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const batch = await sdk.batches.retrieve(id);
    if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) return batch;
    if (Date.now() > until) throw new Error(`batch ${id} still ${batch.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const linesOf = async (sdk: OpenAI, fileId: string) =>
  (await (await sdk.files.content(fileId)).text())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** A job of `n` lines on the slow entity, once its first line is done. A `user` each: no two lines share a call. */
async function runningSlowJob(prefix: string, n: number) {
  const lines = Array.from({ length: n }, (_, i) =>
    lineOf(`${prefix}-${i}`, { model: 'slow', input: `slow line ${prefix} ${i}`, user: `u${i}` }),
  );
  const file = await upload(client, lines);
  const batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/embeddings',
    completion_window: '24h',
  });
  const until = Date.now() + 20_000;
  while ((await client.batches.retrieve(batch.id)).request_counts!.completed === 0 && Date.now() < until)
    await new Promise((r) => setTimeout(r, 50));
  return batch;
}

beforeAll(async () => {
  slow = await startFake(FORMATS.openai);
  slow.setDelay(150);
  gateway = await injectGateway({ batchLeaseMs: 2_000 });
  url = await gateway.listen();
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: gateway.apiKey, maxRetries: 0 });
  await createOpenAiEntity(gateway.url, gateway.adminToken, 'slow', slow.url);
});
afterAll(async () => {
  await gateway.close();
  await slow.close();
});

describe('a batch job through the openai SDK', () => {
  it('completes, and every vector equals a live call for the same input, float and base64', async () => {
    const inputs = Array.from({ length: 120 }, (_, i) => `batch text number ${i}`);
    const lines = inputs.map((text, i) =>
      lineOf(`req-${i}`, { model: 'local', input: text, ...(i % 2 ? { encoding_format: 'base64' } : {}) }),
    );
    lines.push(lineOf('req-many', { model: 'local', input: ['one', 'two', 'three'] }));
    const file = await upload(client, lines);
    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
      metadata: { run: 'test' },
    });
    expect(batch).toMatchObject({
      object: 'batch',
      status: 'in_progress',
      request_counts: { total: 121 },
      metadata: { run: 'test' },
    });
    const done = await untilDone(client, batch.id);
    expect(done).toMatchObject({
      status: 'completed',
      request_counts: { total: 121, completed: 121, failed: 0 },
      error_file_id: null,
    });
    expect(done.completed_at).toBeGreaterThanOrEqual(done.in_progress_at!);
    const output = await linesOf(client, done.output_file_id!);
    expect(output.map((o) => o.custom_id).sort()).toEqual([...inputs.map((_, i) => `req-${i}`), 'req-many'].sort());
    for (const [i, text] of inputs.entries()) {
      const got = output.find((o) => o.custom_id === `req-${i}`)!;
      expect(got.response.status_code).toBe(200);
      const encoding = i % 2 ? 'base64' : 'float';
      const live = await embeddingsCall(gateway.url, gateway.apiKey, {
        model: 'local',
        input: text,
        encoding_format: encoding,
      });
      expect(got.response.body.data[0].embedding).toEqual(live.body.data[0].embedding);
      expect(got.response.body.usage.prompt_tokens).toBe(live.body.usage.prompt_tokens);
      expect(got.response.body.model).toBe(live.body.model);
    }
    const many = output.find((o) => o.custom_id === 'req-many')!;
    expect(many.response.body.data.map((d: { index: number }) => d.index)).toEqual([0, 1, 2]);
    // Each upstream call left a Request Log row tagged with the batch.
    const logs = await call('GET', `${gateway.url}/v1/request-logs?limit=1000`, { token: gateway.adminToken });
    const tagged = logs.body.data.filter((r: { batch_id: string | null }) => r.batch_id === batch.id);
    expect(tagged.length).toBeGreaterThan(0);
    expect(tagged.reduce((n: number, r: { input_count: number }) => n + r.input_count, 0)).toBe(123);
    // Listed, newest first, with a cursor.
    const listed = await client.batches.list({ limit: 1 });
    expect(listed.data[0]!.id).toBe(batch.id);
  });

  it('another key can neither see, read nor cancel it (404)', async () => {
    const file = await upload(client, [lineOf('a', { model: 'local', input: 'x' })]);
    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    const key = await call('POST', `${gateway.url}/v1/api-keys`, {
      token: gateway.adminToken,
      body: { name: 'tenant-b' },
    });
    const other = new OpenAI({ baseURL: `${url}/v1`, apiKey: key.body.secret, maxRetries: 0 });
    await expect(other.batches.retrieve(batch.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.batches.cancel(batch.id)).rejects.toMatchObject({ status: 404 });
    expect((await other.batches.list()).data).toEqual([]);
    await expect(
      other.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h' }),
    ).rejects.toMatchObject({ status: 404 });
    const done = await untilDone(client, batch.id);
    await expect(other.files.content(done.output_file_id!)).rejects.toMatchObject({ status: 404 });
  });
});

describe('bad input files fail before anything runs, every bad line named', () => {
  it('wrong url, unknown model, duplicate custom_id, a body /v1/embeddings refuses (bad JSON is refused at upload)', async () => {
    const before = slow.requests.length;
    const file = await upload(client, [
      lineOf('ok-1', { model: 'slow', input: 'fine' }),
      JSON.stringify({
        custom_id: 'wrong-url',
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'local', input: 'x' },
      }),
      lineOf('unknown', { model: 'no-such-model', input: 'x' }),
      lineOf('ok-1', { model: 'local', input: 'again' }),
      lineOf('no-input', { model: 'local' }),
    ]);
    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    expect(batch.status).toBe('failed');
    expect(batch.errors!.data!.map((e) => [e.line, e.code])).toEqual([
      [2, 'mismatched_url'],
      [3, 'model_not_found'],
      [4, 'duplicate_custom_id'],
      [5, expect.any(String)],
    ]);
    expect(batch.errors!.data![1]!.message).toContain("'no-such-model'");
    expect(batch.request_counts).toMatchObject({ total: 0 });
    const errorLines = await linesOf(client, batch.error_file_id!);
    expect(errorLines.map((e) => e.error.line)).toEqual([2, 3, 4, 5]);
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.requests.length).toBe(before);
  });

  it('a wrong endpoint or window, a missing file', async () => {
    const file = await upload(client, [lineOf('a', { model: 'local', input: 'x' })]);
    await expect(
      client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '1h' as '24h' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/embeddings', completion_window: '24h' }),
    ).rejects.toMatchObject({ status: 404 });
  });
});

describe('cancel', () => {
  it('cancelling, then cancelled; partial output downloadable; no further upstream calls', async () => {
    const batch = await runningSlowJob('c', 400);
    const cancelling = await client.batches.cancel(batch.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    const done = await untilDone(client, batch.id);
    expect(done.status).toBe('cancelled');
    const calls = slow.requests.length;
    const output = await linesOf(client, done.output_file_id!);
    expect(output.length).toBe(done.request_counts!.completed);
    expect(output.length).toBeGreaterThan(0);
    expect(output.length).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 600));
    expect(slow.requests.length).toBe(calls);
    await expect(client.batches.cancel(batch.id)).resolves.toMatchObject({ status: 'cancelled' });
  });
});

describe('the completion window', () => {
  it('a job still running when its window ends is expired: what ran in the output, the rest batch_expired', async () => {
    const batch = await runningSlowJob('x', 300);
    // The 24 hours pass: the window's end, as the store holds it, moves into the past.
    const db = new Database(join(gateway.dataDir, 'embctl.db'));
    db.pragma('busy_timeout = 5000');
    db.prepare("UPDATE batches SET body = json_set(body, '$.expires_at', 1) WHERE id = ?").run(batch.id);
    db.close();
    const done = await untilDone(client, batch.id);
    expect(done.status).toBe('expired');
    expect(done.expired_at).toBeGreaterThan(0);
    expect((done as { note?: string | null }).note).toMatch(/completion window ended/);
    const calls = slow.requests.length;
    const output = await linesOf(client, done.output_file_id!);
    const errors = await linesOf(client, done.error_file_id!);
    expect(output.length).toBe(done.request_counts!.completed);
    expect(errors.length).toBe(done.request_counts!.failed);
    expect(output.length).toBeGreaterThan(0);
    expect(output.length + errors.length).toBe(300);
    expect(errors[0]).toMatchObject({ response: null, error: { code: 'batch_expired' } });
    const ids = new Set([...output, ...errors].map((l) => l.custom_id));
    expect(ids.size).toBe(300);
    await new Promise((r) => setTimeout(r, 600));
    expect(slow.requests.length).toBe(calls);
  });
});

describe("the key's limits and budgets apply to its jobs", () => {
  const keyWith = async (limits: Record<string, number>) => {
    const created = await call('POST', `${gateway.url}/v1/api-keys`, {
      token: gateway.adminToken,
      body: { name: `limited-${Math.random()}`, limits },
    });
    const secret = created.body.secret as string;
    return { sdk: new OpenAI({ baseURL: `${url}/v1`, apiKey: secret, maxRetries: 0 }), secret };
  };
  const separateCalls = (n: number, model: string) =>
    Array.from({ length: n }, (_, i) => lineOf(`l-${i}`, { model, input: `limited ${i}`, user: `u${i}` }));

  /** Counts per clock minute: a case that must stay inside one starts early enough in it. */
  const awayFromMinuteEnd = async () => {
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 50));
  };

  it('at the rpm limit the job waits, its status says why, and live calls through the key are still answered', async () => {
    // Jobs get 80 % of the key's 5 requests a minute: 4, and live calls keep the fifth.
    await awayFromMinuteEnd();
    const { sdk: limited, secret } = await keyWith({ rpm: 5 });
    const file = await upload(limited, separateCalls(10, 'local'));
    const batch = await limited.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    const until = Date.now() + 10_000;
    let seen = await limited.batches.retrieve(batch.id);
    while (!(seen as { note?: string | null }).note && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await limited.batches.retrieve(batch.id);
    }
    expect(seen.status).toBe('in_progress');
    expect((seen as { note?: string | null }).note).toContain("waiting for the key's limits");
    expect((seen as { note?: string | null }).note).toContain('80 %');
    expect(seen.request_counts!.completed).toBe(4);
    const live = await embeddingsCall(gateway.url, secret, { model: 'local', input: 'a live query' });
    expect(live.status).toBe(200);
    // The minute's fifth request was the live call's: the next is refused, the job has not taken it.
    expect((await embeddingsCall(gateway.url, secret, { model: 'local', input: 'one more' })).status).toBe(429);
    expect((await limited.batches.retrieve(batch.id)).request_counts!.completed).toBe(4);
    expect((await limited.batches.cancel(batch.id)).status).toMatch(/cancell/);
  });

  it('a spent budget fails the job, saying so, with what was done in its output', async () => {
    const priced = await call('POST', `${gateway.url}/v1/embedding-models`, {
      token: gateway.adminToken,
      body: { id: 'priced-local', provider: 'local', pricing: { input_per_million_tokens: 10 } },
    });
    expect(priced.status).toBe(201);
    const { sdk: limited } = await keyWith({ budget_usd_day: 0.0001 });
    const file = await upload(limited, separateCalls(30, 'priced-local'));
    const batch = await limited.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    const done = await untilDone(limited, batch.id, 15_000);
    expect(done.status).toBe('failed');
    expect(done.errors!.data![0]!.message).toMatch(/budget/i);
    expect(done.request_counts!.completed).toBeGreaterThan(0);
    expect(done.request_counts!.completed).toBeLessThan(30);
    const output = await linesOf(limited, done.output_file_id!);
    expect(output).toHaveLength(done.request_counts!.completed);
  });
});
