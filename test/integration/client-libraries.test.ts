/**
 * Popular client libraries as real clients of a real gateway: LangChain's OpenAIEmbeddings and the
 * Vercel AI SDK's embedMany ignore `x-should-retry`, so what waiting cannot fix must come back with
 * a status they treat as final. Attempts are counted in the gateway's own Request Logs.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { OpenAIEmbeddings } from '@langchain/openai';
import { embedMany } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: SpawnedGateway;

beforeAll(async () => {
  gateway = await spawnGateway();
  // Priced like a paid model: $1 000 per million tokens, so a two-word call costs $0.002.
  await call('POST', `${gateway.url}/v1/embedding-models`, {
    token: gateway.adminToken,
    body: {
      id: 'paid',
      provider: 'local',
      config: { options: { model: 'hash-16-v1' } },
      pricing: { input_per_million_tokens: 1000 },
    },
  });
});
afterAll(async () => {
  await gateway.stop();
});

const key = async (name: string, limits: Record<string, number>) =>
  (await call('POST', `${gateway.url}/v1/api-keys`, { token: gateway.adminToken, body: { name, limits } })).body as {
    id: string;
    secret: string;
  };

/** How many calls the key made, as the gateway logged them. */
const attempts = async (keyId: string) =>
  (await call('GET', `${gateway.url}/v1/request-logs?key=${keyId}&limit=100`, { token: gateway.adminToken })).body.data
    .length as number;

const langchain = (apiKey: string) =>
  new OpenAIEmbeddings({ model: 'paid', apiKey, configuration: { baseURL: `${gateway.url}/v1` } });
const vercel = (apiKey: string) => createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey }).embedding('paid');

describe('never-satisfiable requests are not retried', () => {
  it('LangChain: a request larger than the whole tpm, and a spent budget, are tried once', async () => {
    const small = await key('lc-tpm', { tpm: 3 });
    await expect(langchain(small.secret).embedDocuments(['one two three four five six'])).rejects.toThrow(
      /tokens per minute/,
    );
    expect(await attempts(small.id)).toBe(1);

    const spent = await key('lc-budget', { budget_usd_day: 0.001 });
    expect((await embeddingsCall(gateway.url, spent.secret, { model: 'paid', input: 'hello world' })).status).toBe(200);
    await expect(langchain(spent.secret).embedQuery('hello again')).rejects.toThrow(/daily budget/);
    expect(await attempts(spent.id)).toBe(2);
  });

  it('Vercel AI SDK: the same two are tried once', async () => {
    const small = await key('ai-tpm', { tpm: 3 });
    await expect(embedMany({ model: vercel(small.secret), values: ['one two three four five six'] })).rejects.toThrow(
      /tokens per minute/,
    );
    expect(await attempts(small.id)).toBe(1);

    const spent = await key('ai-budget', { budget_usd_day: 0.001 });
    expect((await embeddingsCall(gateway.url, spent.secret, { model: 'paid', input: 'hello world' })).status).toBe(200);
    await expect(embedMany({ model: vercel(spent.secret), values: ['hello again'] })).rejects.toThrow(/daily budget/);
    expect(await attempts(spent.id)).toBe(2);
  });

  it('both still get their vectors, and a rate limit they can wait out says exactly how long (retry-after-ms)', async () => {
    const open = await key('clients-ok', {});
    const [vector] = await langchain(open.secret).embedDocuments(['hello world']);
    expect(vector).toHaveLength(16);
    const { embeddings } = await embedMany({ model: vercel(open.secret), values: ['hello world', 'second'] });
    expect(embeddings.map((e) => e.length)).toEqual([16, 16]);

    const limited = await key('clients-rpm', { rpm: 1 });
    expect((await embeddingsCall(gateway.url, limited.secret, { model: 'paid', input: 'x' })).status).toBe(200);
    const refused = await embeddingsCall(gateway.url, limited.secret, { model: 'paid', input: 'x' });
    expect(refused.status).toBe(429);
    const ms = Number(refused.headers['retry-after-ms']);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(60_000);
    expect(Math.ceil(ms / 1000)).toBe(Number(refused.headers['retry-after']));
  });
});
