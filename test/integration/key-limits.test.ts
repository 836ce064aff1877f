/** Per-key limits: exact at the boundary, with precise retry-after and rate-limit headers; budgets stop the SDK. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { runCli } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: SpawnedGateway;
let fake: FakeUpstream;
const createKey = async (limits: Record<string, number>) =>
  (
    await call('POST', `${gateway.url}/v1/api-keys`, {
      token: gateway.adminToken,
      body: { name: `limited-${Math.random()}`, limits },
    })
  ).body as { id: string; secret: string };

/** Fixed windows turn over on the clock minute: start a test well inside one. */
async function awayFromMinuteEdge(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 52_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
}

beforeAll(async () => {
  gateway = await spawnGateway();
  fake = await startFake(FORMATS['openai-compatible']);
  // 1 000 USD per million tokens: a 3-word call costs $0.003 (the fake reports one token a word).
  await call('POST', `${gateway.url}/v1/embedding-models`, {
    token: gateway.adminToken,
    body: {
      id: 'pricey',
      provider: 'openai-compatible',
      config: { connection: { base_url: `${fake.url}/v1`, token: TOKEN }, options: { model: 'bge-v1' } },
      pricing: { input_per_million_tokens: 1000 },
    },
  });
});
afterAll(async () => {
  await gateway.stop();
  await fake.close();
});

describe('requests per minute', () => {
  it('admits exactly rpm requests, then 429 with an accurate retry-after and headers on every response', async () => {
    await awayFromMinuteEdge();
    const key = await createKey({ rpm: 3 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ok = await embeddingsCall(gateway.url, key.secret, { model: 'local', input: `call ${i}` });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-ratelimit-limit-requests']).toBe('3');
      remaining.push(String(ok.headers['x-ratelimit-remaining-requests']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = await embeddingsCall(gateway.url, key.secret, { model: 'local', input: 'one too many' });
    const untilMinute = Math.ceil((60_000 - (Date.now() % 60_000)) / 1000);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(Math.abs(Number(refused.headers['retry-after']) - untilMinute)).toBeLessThanOrEqual(1);
    expect(refused.headers['x-ratelimit-reset-requests']).toBe(`${refused.headers['retry-after']}s`);
    expect(refused.headers['x-should-retry']).toBeUndefined();
    // Another key is not affected.
    expect((await embeddingsCall(gateway.url, gateway.apiKey, { model: 'local', input: 'other key' })).status).toBe(
      200,
    );
  });
});

describe('tokens per minute', () => {
  it('counts tokens exactly at the boundary, and refuses a request larger than the whole limit for good', async () => {
    await awayFromMinuteEdge();
    const key = await createKey({ tpm: 10 });
    const first = await embeddingsCall(gateway.url, key.secret, {
      model: 'local',
      input: 'one two three four five six',
    });
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-remaining-tokens']).toBe('4');
    const exact = await embeddingsCall(gateway.url, key.secret, { model: 'local', input: 'one two three four' });
    expect(exact.status).toBe(200);
    expect(exact.headers['x-ratelimit-remaining-tokens']).toBe('0');
    const over = await embeddingsCall(gateway.url, key.secret, { model: 'local', input: 'one' });
    expect(over.status).toBe(429);
    const tooBig = await embeddingsCall(gateway.url, (await createKey({ tpm: 10 })).secret, {
      model: 'local',
      input: 'a b c d e f g h i j k',
    });
    // Waiting cannot admit it: a status every client library treats as final.
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error).toMatchObject({ code: 'tokens_exceed_rate_limit', param: 'input' });
    expect(tooBig.headers['x-should-retry']).toBe('false');
    expect(tooBig.body.error.message).toContain('more than the 10 tokens per minute');
  });
});

describe('budgets', () => {
  it(
    'allows spending up to the daily budget, then 402 insufficient_quota until midnight UTC, and the SDK does not ' +
      'retry',
    async () => {
      const key = await createKey({ budget_usd_day: 0.005 });
      const cost = async () =>
        (await call('GET', `${gateway.url}/v1/api-keys/${key.id}`, { token: gateway.adminToken })).body.usage
          .spent_today_usd as number;
      expect((await embeddingsCall(gateway.url, key.secret, { model: 'pricey', input: 'one two three' })).status).toBe(
        200,
      );
      expect(await cost()).toBeCloseTo(0.003, 9);
      expect((await embeddingsCall(gateway.url, key.secret, { model: 'pricey', input: 'one two three' })).status).toBe(
        200,
      );
      expect(await cost()).toBeCloseTo(0.006, 9);
      const refused = await embeddingsCall(gateway.url, key.secret, { model: 'pricey', input: 'one two three' });
      expect(refused.status).toBe(402);
      expect(refused.body.error).toMatchObject({ code: 'insufficient_quota', type: 'insufficient_quota' });
      expect(refused.headers['x-should-retry']).toBe('false');
      // No retry-after: waiting hours is no answer for a live call; when the budget resets is said apart.
      expect(refused.headers['retry-after']).toBeUndefined();
      const untilMidnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
      expect(
        Math.abs(Number.parseInt(String(refused.headers['x-ratelimit-reset-budget']), 10) - untilMidnight),
      ).toBeLessThanOrEqual(2);

      const before = fake.requests.length;
      const sdk = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.secret, maxRetries: 2 });
      const error = await sdk.embeddings.create({ model: 'pricey', input: 'x' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
      expect(fake.requests.length).toBe(before);
      const logged = await call('GET', `${gateway.url}/v1/request-logs?key=${key.id}&status=402`, {
        token: gateway.adminToken,
      });
      expect(logged.body.data).toHaveLength(2);
    },
  );

  it('counts spend already in the logs after a restart', async () => {
    const key = await createKey({ budget_usd_month: 0.004 });
    expect(
      (await embeddingsCall(gateway.url, key.secret, { model: 'pricey', input: 'one two three four five' })).status,
    ).toBe(200);
    expect(await gateway.stop()).toBe(0);
    gateway = await spawnGateway({ env: gateway.env });
    const refused = await embeddingsCall(gateway.url, key.secret, { model: 'pricey', input: 'x' });
    expect(refused.status).toBe(402);
    expect(refused.body.error.message).toContain('monthly budget of $0.004');
  });
});

describe('CLI', () => {
  it('sets, shows and removes limits', async () => {
    const created = await runCli(
      ['keys', 'create', 'cli-limited', '--rpm', '60', '--budget-day', '2.5', '-o', 'json'],
      { env: gateway.env },
    );
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).limits).toEqual({ rpm: 60, budget_usd_day: 2.5 });
    const updated = await runCli(['keys', 'update', 'cli-limited', '--rpm', 'none', '--tpm', '1000', '-o', 'json'], {
      env: gateway.env,
    });
    expect(JSON.parse(updated.stdout).limits).toEqual({ tpm: 1000, budget_usd_day: 2.5 });
    const shown = await runCli(['keys', 'get', 'cli-limited', '-o', 'table'], { env: gateway.env });
    expect(shown.stdout).toMatch(/^limits:\s+1000 tpm, \$2\.5\/day$/m);
    expect(shown.stdout).toMatch(/^spent today:\s+\$0\.000000$/m);
    expect((await runCli(['keys', 'create', 'x', '--rpm', '1.5'], { env: gateway.env })).code).toBe(2);
  });
});
