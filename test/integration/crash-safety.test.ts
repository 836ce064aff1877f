/**
 * `kill -9` during heavy writes: the store passes SQLite's integrity check on restart, nothing
 * committed is lost, and every call answered 200 has its log row, except calls answered within the
 * documented window before the crash (rows still in the write buffer: 100 ms).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { isolatedEnv } from '../helpers/cli.js';
import { spawnGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

/** The bound README states: one 50 ms flush interval plus a flush and a busy event loop. */
const FLUSH_WINDOW_MS = 100;

describe('crash safety', () => {
  it(
    'survives kill -9 under load: integrity ok, entities intact, only the last flush window of rows ' + 'missing',
    async () => {
      const env = isolatedEnv();
      const gateway = await spawnGateway({ env });
      // Admin writes in flight too: entity writes must be all or nothing.
      const entityWrites = Array.from({ length: 20 }, (_, i) =>
        call('POST', `${gateway.url}/v1/embedding-models`, {
          token: gateway.adminToken,
          body: { id: `crash-${i}`, provider: 'local', config: { options: { model: 'hash-8-v1' } } },
        }).catch(() => undefined),
      );
      const agent = new Agent({ connections: 16 });
      const answered: { id: string; at: number }[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const response = await request(`${gateway.url}/v1/embeddings`, {
              method: 'POST',
              dispatcher: agent,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.apiKey}` },
              body: JSON.stringify({ model: 'local', input: ['crash test', 'second input'] }),
            });
            await response.body.dump();
            if (response.statusCode === 200)
              answered.push({ id: String(response.headers['x-request-id']), at: Date.now() });
          } catch {
            return; // the gateway is gone
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      await new Promise((r) => setTimeout(r, 1500));
      const killedAt = Date.now();
      gateway.process.kill('SIGKILL');
      stop = true;
      await Promise.all([...workers, ...entityWrites]);
      await agent.close();
      expect(answered.length).toBeGreaterThan(100);

      const db = new Database(join(env.EMBCTL_DATA_DIR!, 'embctl.db'), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const logged = new Set((db.prepare('SELECT id FROM request_logs').all() as { id: string }[]).map((r) => r.id));
      const entities = db.prepare("SELECT body FROM entities WHERE id LIKE 'crash-%'").all() as { body: string }[];
      db.close();
      for (const row of entities) expect(JSON.parse(row.body).provider).toBe('local');

      const missing = answered.filter((a) => !logged.has(a.id));
      // A row missing for a call answered well before the crash would be a lost committed row. The
      // slack covers a flush timer firing late on a saturated event loop (two test workers share the cores).
      expect(missing.filter((m) => m.at < killedAt - FLUSH_WINDOW_MS - 250)).toEqual([]);

      const restarted = await spawnGateway({ env });
      const usage = await call('GET', `${restarted.url}/v1/usage?group_by=model`, { token: restarted.adminToken });
      expect(usage.body.totals.requests).toBe(logged.size);
      expect(
        (
          await call('POST', `${restarted.url}/v1/embeddings`, {
            token: restarted.apiKey,
            body: { model: 'local', input: 'after the crash' },
          })
        ).status,
      ).toBe(200);
      await restarted.stop();
    },
  );
});
