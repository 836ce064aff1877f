/**
 * The upstream body budget through the gateway: a slow upstream holds no budget while it thinks
 * (every call reaches it at once), big answers are then read within the budget, every caller gets
 * its vectors, and nothing stays held afterwards.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream } from '../fakes/upstream.js';
import { call } from '../helpers/http.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';

const DIMS = 1536;
let gateway: InjectedGateway;
let fake: FakeUpstream;

/** A gateway whose budget fits one 64-input float answer (expected at ~2 MB: 64 × 1536 × 20 bytes). */
async function budgetedGateway(): Promise<InjectedGateway> {
  const budgeted = await injectGateway({ upstreamBodyBudgetBytes: 2.5 * 1024 * 1024 });
  await call('POST', `${budgeted.url}/v1/embedding-models`, {
    token: budgeted.adminToken,
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
  return budgeted;
}

beforeAll(async () => {
  fake = await startFake(FORMATS.openai, DIMS);
  gateway = await budgetedGateway();
});
afterAll(async () => {
  await gateway.close();
  await fake.close();
});

const gauge = async (name: string, of = gateway) => {
  const text = (await of.app.inject({ url: '/metrics' })).body;
  return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
};

const inputs = (n: number) => Array.from({ length: 64 }, (_, i) => `call ${n} text ${i}`);
const bigCall = (n: number) => ({ model: 'big', input: inputs(n), encoding_format: 'float' });
const until = async (check: () => Promise<boolean>) => {
  for (let waited = 0; !(await check()); waited += 10) {
    expect(waited).toBeLessThan(5000);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A call over a real socket that its caller can walk away from; `leave()` resolves with the caller's error. */
const leavingCall = (origin: string, apiKey: string, body: unknown) => {
  const gone = new AbortController();
  const answer = fetch(`${origin}/v1/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: gone.signal,
  }).catch((error: unknown) => error);
  return {
    leave: () => {
      gone.abort();
      return answer;
    },
  };
};

const clientClosedRow = async (of: InjectedGateway) => {
  let row: { prompt_tokens: number; cost_usd: number } | undefined;
  await until(async () => {
    row = (await call('GET', `${of.url}/v1/request-logs?status=499`, { token: of.adminToken })).body.data[0];
    return row !== undefined;
  });
  expect(row!.prompt_tokens).toBeGreaterThan(0);
  expect(row!.cost_usd).toBeGreaterThan(0);
  return row;
};

describe('the upstream body budget', () => {
  it('lets every call reach a slow upstream at once, reads the answers within the budget, and releases all', async () => {
    fake.script({ delayMs: 2000 }, { delayMs: 2000 }, { delayMs: 2000 });
    const before = fake.requests.length;
    const calls = [0, 1, 2].map((n) =>
      call('POST', `${gateway.url}/v1/embeddings`, {
        token: gateway.apiKey,
        body: bigCall(n),
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

  it('reads answers into memory reused from one response to the next, and every caller gets its own vectors', async () => {
    // The budget fits one answer at a time: each is copied into the slabs the previous one left.
    const answers = await Promise.all(
      [10, 11, 12, 13, 14, 15].map((n) =>
        call('POST', `${gateway.url}/v1/embeddings`, { token: gateway.apiKey, body: bigCall(n) }),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      const wrong = inputs(10 + i).filter(
        (input, j) => JSON.stringify(answer.body.data[j].embedding) !== JSON.stringify(fakeVector(input, DIMS)),
      );
      expect(wrong).toEqual([]);
    }
  });

  it('gives back the upstream answer of a caller that left while it waited, so the gateway still stops', async () => {
    const own = await budgetedGateway();
    const listening = await own.listen();
    // The first call's answer drips in: from its headers on, it holds the whole budget.
    fake.script({ dripMs: 50 });
    const holder = call('POST', `${own.url}/v1/embeddings`, {
      token: own.apiKey,
      body: bigCall(0),
    });
    await until(async () => (await gauge('embctl_upstream_body_bytes_held', own)) > 0);
    // The next big call's answer arrives and waits for room; its caller gives up.
    const waiting = leavingCall(listening, own.apiKey, bigCall(1));
    await until(async () => (await gauge('embctl_upstream_body_waiting', own)) === 1);
    expect(await waiting.leave()).toBeInstanceOf(Error);
    await until(async () => (await gauge('embctl_upstream_body_waiting', own)) === 0);
    // Unread, but the upstream did the work: charged at the request's own count.
    expect(await clientClosedRow(own)).toMatchObject({ input_count: 64, usage_estimated: true });
    expect((await holder).status).toBe(502); // the drip was an empty list: no vectors for 64 inputs
    // Before the fix the unread answer held its upstream connection: this close never returned.
    await own.close();
  });

  it('stops reading the answer of a caller that leaves mid-read, and charges it', async () => {
    const own = await budgetedGateway();
    const listening = await own.listen();
    // Its head at once, then a byte a second: read to its end, it would hold the budget for 27 s.
    fake.script({ dripMs: 1000 });
    const reading = leavingCall(listening, own.apiKey, bigCall(2));
    await until(async () => (await gauge('embctl_upstream_body_bytes_held', own)) > 0);
    expect(await reading.leave()).toBeInstanceOf(Error);
    await until(async () => (await gauge('embctl_upstream_body_bytes_held', own)) === 0);
    expect(await clientClosedRow(own)).toMatchObject({ input_count: 64, usage_estimated: true });
    await own.close();
  });

  it('gives back the share of a caller that left before its call reached the upstream', async () => {
    const own = await budgetedGateway();
    const { hostname: host, port } = new URL(await own.listen());
    // Over 300 000 tokens by the cheap bound: counted exactly, in time slices, long enough to leave meanwhile.
    const input = Array.from({ length: 256 }, (_, i) => `text ${i} ${'word '.repeat(1000)}`);
    const before = fake.requests.length;
    fake.script({ dripMs: 20 }); // its head at once: the answer is there to be held, for nobody
    await new Promise<void>((resolve) => {
      const leaving = request({
        host,
        port,
        method: 'POST',
        path: '/v1/embeddings',
        headers: { authorization: `Bearer ${own.apiKey}`, 'content-type': 'application/json' },
      });
      leaving.on('error', () => undefined);
      leaving.end(JSON.stringify({ model: 'big', input, encoding_format: 'float' }), () =>
        setTimeout(() => {
          leaving.destroy();
          resolve();
        }, 20),
      );
    });
    // The call goes on without its caller to the upstream, whose answer is not read but billed.
    const row = await clientClosedRow(own);
    expect(fake.requests.length).toBe(before + 1);
    expect(row).toMatchObject({ input_count: 256, prompt_tokens: 257_024, usage_estimated: true });
    // Before the fix the hold was made after 'close' and waited for it: 8 MB stayed taken for ever,
    // and every big call after it queued behind them.
    expect(await gauge('embctl_upstream_body_bytes_held', own)).toBe(0);
    const next = await call('POST', `${own.url}/v1/embeddings`, { token: own.apiKey, body: bigCall(7) });
    expect(next.status).toBe(200);
    await own.close();
  });
});
