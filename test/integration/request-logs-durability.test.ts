/** Buffered log writes lose nothing on a graceful stop; retention trims what it is told to. */
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { isolatedEnv } from '../helpers/cli.js';
import { spawnGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

describe('request log durability', () => {
  it('finds all 1 000 rows after SIGTERM and a restart', async () => {
    const env = isolatedEnv();
    const gateway = await spawnGateway({ env });
    const agent = new Agent({ connections: 16 });
    const body = JSON.stringify({ model: 'local', input: 'durable row' });
    let sent = 0;
    const worker = async () => {
      while (sent < 1000) {
        sent++;
        const response = await request(`${gateway.url}/v1/embeddings`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.apiKey}` },
          body,
        });
        expect(response.statusCode).toBe(200);
        await response.body.dump();
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await agent.close();
    // Stop at once: most rows are still in the write buffer.
    expect(await gateway.stop('SIGTERM')).toBe(0);

    const restarted = await spawnGateway({ env });
    const usage = await call('GET', `${restarted.url}/v1/usage?group_by=model`, { token: restarted.adminToken });
    expect(usage.body.totals.requests).toBe(1000);
    const page = await call('GET', `${restarted.url}/v1/request-logs?limit=1000`, { token: restarted.adminToken });
    expect(new Set(page.body.data.map((r: { id: string }) => r.id)).size).toBe(1000);
    await restarted.stop();
  });

  it('keeps at most --log-max-rows rows', async () => {
    const env = isolatedEnv();
    const first = await spawnGateway({ env });
    for (let i = 0; i < 12; i++) {
      await call('POST', `${first.url}/v1/embeddings`, {
        token: first.apiKey,
        body: { model: 'local', input: `row ${i}` },
      });
    }
    await first.stop();
    const trimmed = await spawnGateway({ env, args: ['--log-max-rows', '5'] });
    let rows: { seq: number }[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      rows = (await call('GET', `${trimmed.url}/v1/request-logs?limit=100`, { token: trimmed.adminToken })).body.data;
      if (rows.length === 5) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows.map((r) => r.seq)).toEqual([12, 11, 10, 9, 8]);
    await trimmed.stop();
  });
});
