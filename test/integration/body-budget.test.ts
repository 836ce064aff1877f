/**
 * The upstream body budget through the gateway: a slow upstream holds no budget while it thinks
 * (every call reaches it at once), big answers are then read within the budget, every caller gets
 * its vectors, and nothing stays held afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream } from '../fakes/upstream.js';
import { call } from '../helpers/http.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';

const DIMS = 1536;
let gateway: InjectedGateway;
let fake: FakeUpstream;

beforeAll(async () => {
  fake = await startFake(FORMATS.openai, DIMS);
  // One 64-input float answer is expected at ~2 MB (64 × 1536 × 20 bytes): the budget fits one.
  gateway = await injectGateway({ upstreamBodyBudgetBytes: 2.5 * 1024 * 1024 });
  await call('POST', `${gateway.url}/v1/embedding-models`, {
    token: gateway.adminToken,
    body: {
      id: 'big',
      provider: 'openai',
      config: {
        connection: { base_url: `${fake.url}/v1`, token: TOKEN },
        options: { model: 'text-embedding-3-small' },
      },
      dimensions: DIMS,
    },
  });
});
afterAll(async () => {
  await gateway.close();
  await fake.close();
});

const gauge = async (name: string) => {
  const text = (await gateway.app.inject({ url: '/metrics' })).body;
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
};

describe('the upstream body budget', () => {
  it('lets every call reach a slow upstream at once, reads the answers within the budget, and releases all', async () => {
    const inputs = (n: number) => Array.from({ length: 64 }, (_, i) => `call ${n} text ${i}`);
    fake.script({ delayMs: 2000 }, { delayMs: 2000 }, { delayMs: 2000 });
    const before = fake.requests.length;
    const calls = [0, 1, 2].map((n) =>
      call('POST', `${gateway.url}/v1/embeddings`, {
        token: gateway.apiKey,
        body: { model: 'big', input: inputs(n), encoding_format: 'float' },
      }),
    );
    // Held at the upstream, not at the gateway: all three arrive while the first is still unanswered.
    for (let waited = 0; fake.requests.length - before < 3; waited += 10) {
      expect(waited).toBeLessThan(1800);
      await new Promise((r) => setTimeout(r, 10));
    }
    const answers = await Promise.all(calls);
    for (const [n, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(answer.body.data).toHaveLength(64);
      expect(answer.body.data[5].embedding).toEqual(fakeVector(inputs(n)[5]!, DIMS));
    }
    expect(await gauge('embctl_upstream_body_bytes_held')).toBe(0);
    expect(await gauge('embctl_upstream_body_waiting')).toBe(0);
  });
});
