/**
 * A 20 000-line batch job survives two `kill -9`s of the gateway: after each restart it resumes
 * where it was (the dead gateway's leases run out and its lines are taken over), completes, and
 * its output holds every custom_id exactly once. The fake upstream counts what it saw: each input
 * at least once, and again only the lines in flight at a kill.
 */
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORMATS } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { isolatedEnv } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { createOpenAiEntity } from '../helpers/http.js';

const LINES = 20_000;
const CONCURRENCY = 4;
const GROUP = 256;
let fake: FakeUpstream;

beforeAll(async () => {
  fake = await startFake(FORMATS.openai);
  fake.setDelay(8);
});
afterAll(async () => {
  await fake.close();
});

describe('batch jobs across kill -9', () => {
  it('a 20 000-line job killed twice completes with every custom_id once', async () => {
    const env = isolatedEnv();
    const args = ['--batch-lease', '1500ms', '--batch-concurrency', String(CONCURRENCY)];
    let gateway: SpawnedGateway = await spawnGateway({ env, args });
    await createOpenAiEntity(gateway.url, gateway.adminToken, 'upstream', fake.url);
    const sdk = (g: SpawnedGateway) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: g.apiKey, maxRetries: 3 });
    const lines = Array.from({ length: LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `line-${i}`,
        method: 'POST',
        url: '/v1/embeddings',
        body: { model: 'upstream', input: `input ${i}` },
      }),
    );
    const file = await sdk(gateway).files.create({
      file: await toFile(Buffer.from(lines.join('\n')), 'big.jsonl'),
      purpose: 'batch',
    });
    const batch = await sdk(gateway).batches.create({
      input_file_id: file.id,
      endpoint: '/v1/embeddings',
      completion_window: '24h',
    });
    const progress = async (g: SpawnedGateway) => (await sdk(g).batches.retrieve(batch.id)).request_counts!.completed;

    for (const at of [LINES * 0.25, LINES * 0.6]) {
      const until = Date.now() + 60_000;
      while ((await progress(gateway)) < at && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      gateway.process.kill('SIGKILL');
      await new Promise((r) => gateway.process.once('exit', r));
      gateway = await spawnGateway({ env, args });
    }
    const until = Date.now() + 120_000;
    let done = await sdk(gateway).batches.retrieve(batch.id);
    while (done.status !== 'completed' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      done = await sdk(gateway).batches.retrieve(batch.id);
    }
    expect(done).toMatchObject({ status: 'completed', request_counts: { total: LINES, completed: LINES, failed: 0 } });
    const output = (await (await sdk(gateway).files.content(done.output_file_id!)).text()).split('\n').filter(Boolean);
    const ids = output.map((l) => JSON.parse(l).custom_id as string);
    expect(ids).toHaveLength(LINES);
    expect(new Set(ids).size).toBe(LINES);

    const seen = new Map<string, number>();
    for (const r of fake.requests)
      for (const input of r.body.input as string[]) seen.set(input, (seen.get(input) ?? 0) + 1);
    expect(seen.size).toBe(LINES);
    const again = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    // Sent again: only what was in flight at each kill (at most CONCURRENCY calls of GROUP lines, twice).
    expect(again).toBeLessThanOrEqual(2 * CONCURRENCY * GROUP);
    console.log(`batch-crash: ${LINES} lines, 2 kills, ${again} input(s) sent upstream a second time`);
    await gateway.stop();
  }, 240_000);
});
