/**
 * Upstream faults end in the documented status, within the entity's time bound, and the gateway
 * keeps serving. The bound checks are deadlines (the fake would otherwise hang for 30 s), not speed.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream } from '../fakes/upstream.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: SpawnedGateway;
let fake: FakeUpstream;
let teiFake: FakeUpstream;
const TIMEOUT_MS = 1500;

beforeAll(async () => {
  gateway = await spawnGateway();
  fake = await startFake(FORMATS['openai-compatible']);
  teiFake = await startFake(FORMATS['huggingface-tei']);
  for (const [id, provider, extra, base] of [
    ['faulty', 'openai-compatible', { dimensions: 8 }, `${fake.url}/v1`],
    ['faulty-tei', 'huggingface-tei', {}, teiFake.url],
  ] as const) {
    const created = await call('POST', `${gateway.url}/v1/embedding-models`, {
      token: gateway.adminToken,
      body: {
        id,
        provider,
        config: { connection: { base_url: base, token: TOKEN, timeout: TIMEOUT_MS }, options: { model: 'm' } },
        ...extra,
      },
    });
    expect(created.status).toBe(201);
  }
});
afterAll(async () => {
  await gateway.stop();
  await fake.close();
  await teiFake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
});

const embed = (input: unknown = 'fault test', model = 'faulty') =>
  embeddingsCall(gateway.url, gateway.apiKey, { model, input, encoding_format: 'float' });

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const result = await work();
  return [result, Date.now() - started];
}

async function stillServes() {
  const response = await embed('healthy again');
  expect(response.status).toBe(200);
  expect(response.body.data[0].embedding).toEqual(fakeVector('healthy again'));
}

describe('upstream faults', () => {
  it('a hanging upstream ends in 504 upstream_timeout at the entity timeout', async () => {
    fake.script({ delayMs: 30_000 });
    const [response, elapsed] = await timed(() => embed());
    expect(response.status).toBe(504);
    expect(response.body.error.code).toBe('upstream_timeout');
    expect(elapsed).toBeLessThan(TIMEOUT_MS * 4);
    await stillServes();
  });

  it('a body that trickles in past the deadline ends in 504 upstream_timeout', async () => {
    fake.script({ dripMs: 200 });
    const [response, elapsed] = await timed(() => embed());
    expect(response.status).toBe(504);
    expect(response.body.error.code).toBe('upstream_timeout');
    expect(elapsed).toBeLessThan(TIMEOUT_MS * 4);
    await stillServes();
  });

  it('connection resets are retried, then end in 502 upstream_unreachable', async () => {
    fake.script({ reset: true }, { reset: true }, { reset: true });
    const response = await embed();
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_unreachable');
    expect(fake.requests).toHaveLength(3);
    await stillServes();
  });

  it('one reset, then success: the retry is invisible to the caller', async () => {
    fake.script({ reset: true });
    expect((await embed()).status).toBe(200);
    expect(fake.requests).toHaveLength(2);
  });

  it('500 twice then 200 succeeds after two retries', async () => {
    fake.script({ status: 500 }, { status: 500 });
    const response = await embed('third time lucky');
    expect(response.status).toBe(200);
    expect(response.body.data[0].embedding).toEqual(fakeVector('third time lucky'));
    expect(fake.requests).toHaveLength(3);
  });

  it('500 on every attempt ends in 502 upstream_error', async () => {
    fake.script({ status: 500 }, { status: 500 }, { status: 500 });
    const response = await embed();
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_error');
    await stillServes();
  });

  it('429 with retry-after is honoured, then succeeds', async () => {
    fake.script({ status: 429, headers: { 'retry-after': '1' } });
    const [response, elapsed] = await timed(() => embed());
    expect(response.status).toBe(200);
    expect(fake.requests).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('a 429 storm ends in 429 with retry-after for the caller', async () => {
    fake.script(
      ...Array(3).fill({
        status: 429,
        headers: { 'retry-after-ms': '100' },
        body: { error: { message: 'Rate limit reached', type: 'rate_limit_error' } },
      }),
    );
    const response = await embed();
    expect(response.status).toBe(429);
    expect(response.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(response.headers['retry-after']).toBe('1');
    expect(fake.requests).toHaveLength(3);
    await stillServes();
  });

  it("the openai SDK honours the gateway's 429 retry-after and then succeeds", async () => {
    fake.script(...Array(3).fill({ status: 429, headers: { 'retry-after-ms': '50' } }));
    const sdk = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.apiKey, maxRetries: 1 });
    const [response, elapsed] = await timed(() =>
      sdk.embeddings.create({ model: 'faulty', input: 'retry me', encoding_format: 'float' }),
    );
    expect(response.data[0]!.embedding).toEqual(fakeVector('retry me'));
    // Three upstream 429s (the gateway's own retries), the SDK's wait of retry-after: 1 s, then one more call.
    expect(fake.requests).toHaveLength(4);
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it('a retry-after beyond the deadline is not waited for', async () => {
    fake.script({ status: 429, headers: { 'retry-after': '30' } });
    const [response, elapsed] = await timed(() => embed());
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toBe('30');
    expect(elapsed).toBeLessThan(TIMEOUT_MS);
  });

  it('malformed JSON ends in 502 upstream_bad_response', async () => {
    fake.script({ raw: '{"data": [{"embedding": [0.1, 0.2' });
    const response = await embed();
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_bad_response');
    await stillServes();
  });

  it('a 200 in the wrong shape ends in 502 upstream_bad_response', async () => {
    fake.script({ status: 200, body: { data: [{ embedding: 'not base64 floats!' }] } });
    expect((await embed()).body.error.code).toBe('upstream_bad_response');
  });

  it('vectors of the wrong length end in 502, never a silent pass-through', async () => {
    fake.script({ vectorLength: 5 });
    const response = await embed();
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_dimension_mismatch');
    expect(response.body.error.message).toContain('5 dimensions');
    await stillServes();
  });

  it('one failed part fails the whole split request: no partial data', async () => {
    teiFake.script({}, { status: 400, body: { error: 'bad part', error_type: 'Validation' } });
    const inputs = Array.from({ length: 70 }, (_, i) => `part input ${i}`);
    const response = await embed(inputs, 'faulty-tei');
    expect(teiFake.requests.length).toBeGreaterThanOrEqual(2);
    expect(response.status).toBe(400);
    expect(response.body).not.toHaveProperty('data');
    expect(response.body.error.message).toContain('bad part');
  });

  it('an unreachable upstream ends in 502 upstream_unreachable', async () => {
    await call('POST', `${gateway.url}/v1/embedding-models`, {
      token: gateway.adminToken,
      body: {
        id: 'nowhere',
        provider: 'openai-compatible',
        config: { connection: { base_url: 'http://127.0.0.1:9/v1', timeout: TIMEOUT_MS }, options: { model: 'm' } },
      },
    });
    const response = await embed('x', 'nowhere');
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_unreachable');
    await stillServes();
  });

  it(
    'a client that leaves mid-call gets a 499 row once the upstream answers, and no stack trace is ' + 'logged',
    async () => {
      fake.script({ delayMs: 300 });
      const leaving = new AbortController();
      const sent = fetch(`${gateway.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'faulty', input: 'about to leave' }),
        signal: leaving.signal,
      });
      setTimeout(() => leaving.abort(), 100);
      await expect(sent).rejects.toThrow();
      await stillServes();
      let row: any;
      for (let attempt = 0; attempt < 50 && !row; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const rows = await call('GET', `${gateway.url}/v1/request-logs?status=499`, { token: gateway.adminToken });
        row = rows.body.data[0];
      }
      expect(row).toMatchObject({
        status: 499,
        error_code: 'client_closed_request',
        entity_id: 'faulty',
        input_count: 1,
      });
      expect(row.prompt_tokens).toBeGreaterThan(0); // the upstream call finished and was counted
      expect(gateway.output()).not.toMatch(/\n\s+at /);
    },
  );
});
