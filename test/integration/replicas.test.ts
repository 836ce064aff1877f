/**
 * Several gateways over one PostgreSQL, as replicas behind a load balancer: every limit one gateway
 * enforces holds across them, writes reach them all within a second, the live log stream shows
 * every replica's rows exactly once, and a replica's crash or a database outage loses nothing
 * beyond what README states. Real processes (`bin/embctl gateway start --store …`), a real server.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/core/secrets.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { startFake } from '../fakes/upstream.js';
import { isolatedEnv, runCli, spawnTail, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.mjs';
import { connectSse } from '../helpers/sse.js';

const ADMIN = `embadm_${randomBytes(24).toString('base64url')}`;
const SECRET_KEY = randomBytes(32).toString('base64');

let postgres: TestPostgres;
let storeUrl: string;
let replicas: SpawnedGateway[] = [];

const replicaEnv = (url: string) =>
  isolatedEnv({ EMBCTL_STORE_URL: url, EMBCTL_SECRET_KEY: SECRET_KEY, EMBCTL_ADMIN_TOKEN: ADMIN });
const admin = (replica: SpawnedGateway, method: string, path: string, body?: unknown) =>
  call(method, `${replica.url}${path}`, { token: ADMIN, ...(body === undefined ? {} : { body }) });
const embed = (replica: SpawnedGateway, key: string, input: string | string[] = 'hello', model = 'local') =>
  embeddingsCall(replica.url, key, { model, input });

/** Polls `check` until it holds or `withinMs` passes; returns how long it took. */
async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > withinMs) throw new Error(`not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until at least `marginMs` remain in the clock minute: per-minute limits reset on the minute. */
async function awayFromMinuteEnd(marginMs = 15_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 50));
}

async function newKey(limits: Record<string, number>, on = replicas[0]!): Promise<{ id: string; secret: string }> {
  const key = (await admin(on, 'POST', '/v1/api-keys', { name: `k-${randomBytes(3).toString('hex')}`, limits })).body;
  // Known to every replica before it is used (within the recheck interval); asked without spending any limit.
  for (const replica of replicas)
    await eventually(
      async () => (await call('GET', `${replica.url}/v1/models`, { token: key.secret })).status === 200,
      1000,
    );
  return key;
}

beforeAll(async () => {
  postgres = await startPostgres();
  storeUrl = await postgres.database();
  // Started at the same moment on an empty database.
  replicas = await Promise.all([0, 1, 2].map(() => spawnGateway({ env: replicaEnv(storeUrl) })));
}, 90_000);
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await postgres?.stop();
});

describe('three replicas started together on an empty database', () => {
  it('migrate once and seed one local entity, one default key and one admin token', async () => {
    const keys = (await admin(replicas[2]!, 'GET', '/v1/api-keys')).body;
    expect(keys.map((k: { name: string }) => k.name)).toEqual(['default']);
    const entities = (await admin(replicas[1]!, 'GET', '/v1/embedding-models')).body;
    expect(entities.map((e: { id: string }) => e.id)).toEqual(['local']);
    // The first-start banner came from exactly one of them.
    expect(replicas.filter((r) => r.output().includes('First start')).length).toBe(1);
    for (const replica of replicas) {
      const status = (await admin(replica, 'GET', '/v1/status')).body;
      expect(status.store).toMatchObject({ kind: 'postgres', schema_version: PG_MIGRATIONS.length, reachable: true });
      expect(status.store.location).not.toContain('test-password');
      expect(replica.output()).not.toContain('test-password');
    }
    await eventually(async () => (await admin(replicas[0]!, 'GET', '/v1/status')).body.instances.length === 3, 6000);

    // The CLI reports the same: the store without its password, its schema, the replicas; doctor checks it.
    const env = { ...isolatedEnv(), EMBCTL_URL: replicas[1]!.url, EMBCTL_ADMIN_TOKEN: ADMIN };
    const status = await runCli(['gateway', 'status', '-o', 'table'], { env });
    expect(status.stdout).toMatch(/store: +postgres postgres:\/\/embctl:\*\*\*@127\.0\.0\.1:\d+\/\S+ \(schema \d+\)/);
    const seen = /^gateways: +(.*)$/m.exec(status.stdout)?.[1]?.split('; ') ?? [];
    expect(seen).toHaveLength(3);
    expect(seen.filter((g) => g.includes('(this one)'))).toHaveLength(1);
    const doctor = await runCli(['doctor', '-o', 'json'], { env });
    const checks = JSON.parse(doctor.stdout).checks ?? JSON.parse(doctor.stdout);
    expect(JSON.stringify(checks)).toMatch(
      /postgres at postgres:\/\/embctl:\*\*\*@[^"]*schema \d+, reachable; 3 gateway/,
    );
  });

  it('a wrong password or a missing secret key stops a replica at start, and neither error shows the password', async () => {
    const wrong = storeUrl.replace('test-password', 'not-the-password');
    const refused = await runCli(['gateway', 'start', '--port', '0'], {
      env: isolatedEnv({ EMBCTL_STORE_URL: wrong, EMBCTL_SECRET_KEY: SECRET_KEY }),
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('cannot open the PostgreSQL store at postgres://embctl:***@');
    expect(refused.stderr).not.toContain('not-the-password');
    const keyless = await runCli(['gateway', 'start', '--port', '0'], {
      env: isolatedEnv({ EMBCTL_STORE_URL: storeUrl }),
    });
    expect(keyless.code).toBe(2);
    expect(keyless.stderr).toContain('EMBCTL_SECRET_KEY or pass --secret-key-file');
    expect(keyless.stderr).not.toContain('test-password');
  });
});

describe('limits across replicas', () => {
  it('a key with rpm 10 gets exactly 10 answers across three replicas, the rest 429 with retry-after', async () => {
    await awayFromMinuteEnd();
    const key = await newKey({ rpm: 10 });
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => embed(replicas[i % 3]!, key.secret, `call ${i}`)),
    );
    const ok = responses.filter((r) => r.status === 200);
    expect(ok.length).toBe(10);
    const refused = responses.filter((r) => r.status === 429);
    expect(refused.length).toBe(30 - ok.length);
    for (const r of refused) expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    // Every replica shows the global count.
    const shown = (await admin(replicas[2]!, 'GET', `/v1/api-keys/${key.id}`)).body.usage;
    expect(shown.requests_this_minute).toBe(10);
  });

  it('tokens per minute and a daily budget hold across replicas too', async () => {
    await awayFromMinuteEnd();
    const tpmKey = await newKey({ tpm: 20 });
    const four = 'one two three four';
    const byTokens = await Promise.all(
      Array.from({ length: 12 }, (_, i) => embed(replicas[i % 3]!, tpmKey.secret, four)),
    );
    expect(byTokens.filter((r) => r.status === 200).length).toBe(5);
    expect(byTokens.filter((r) => r.status === 429).length).toBe(7);
    const tokensUsed = (await admin(replicas[0]!, 'GET', `/v1/api-keys/${tpmKey.id}`)).body.usage.tokens_this_minute;
    expect(tokensUsed).toBe(20);

    // $1 per token: each call of 4 tokens reserves $4 of a $10 daily budget.
    await admin(replicas[0]!, 'POST', '/v1/embedding-models', {
      id: 'priced',
      provider: 'local',
      config: { connection: {}, options: { model: 'hash-32-v1' } },
      pricing: { input_per_million_tokens: 1_000_000 },
    });
    const budgetKey = await newKey({ budget_usd_day: 10 });
    const byBudget = await Promise.all(
      Array.from({ length: 9 }, (_, i) => embed(replicas[i % 3]!, budgetKey.secret, four, 'priced')),
    );
    expect(byBudget.filter((r) => r.status === 200).length).toBe(3);
    expect(byBudget.filter((r) => r.status === 402).length).toBe(6);
    const spent = (await admin(replicas[1]!, 'GET', `/v1/api-keys/${budgetKey.id}`)).body.usage.spent_today_usd;
    expect(spent).toBeCloseTo(12, 9);
  });
});

describe('writes through one replica, enforced by all', () => {
  it('a revoked key gets 401 from another replica within 1 s; a disabled entity is refused by all within 1 s', async () => {
    const key = await newKey({});
    expect((await embed(replicas[2]!, key.secret)).status).toBe(200);
    await admin(replicas[0]!, 'POST', `/v1/api-keys/${key.id}/revoke`);
    await eventually(async () => (await embed(replicas[2]!, key.secret)).status === 401, 1000);

    await admin(replicas[0]!, 'POST', '/v1/embedding-models', {
      id: 'switchable',
      provider: 'local',
      config: { connection: {}, options: { model: 'hash-16-v1' } },
    });
    const user = await newKey({});
    for (const replica of replicas)
      await eventually(async () => (await embed(replica, user.secret, 'x', 'switchable')).status === 200, 1000);
    await admin(replicas[1]!, 'PATCH', '/v1/embedding-models/switchable', { enabled: false });
    for (const replica of replicas)
      await eventually(async () => (await embed(replica, user.secret, 'x', 'switchable')).status === 403, 1000);
  });

  it('an admin-token rotation through one replica is enforced by all, without restart', async () => {
    const rotated = await admin(replicas[0]!, 'POST', '/v1/admin-token');
    expect(rotated.status).toBe(201);
    const token = rotated.body.admin_token as string;
    for (const replica of replicas) {
      await eventually(
        async () => (await call('GET', `${replica.url}/v1/status`, { token: ADMIN })).status === 401,
        1000,
      );
      expect((await call('GET', `${replica.url}/v1/status`, { token })).status).toBe(200);
    }
    // Put the original back for the other tests.
    const client = new pg.Client({ connectionString: storeUrl });
    await client.connect();
    await client.query("UPDATE settings SET value = $1 WHERE name = 'admin_token_hash'", [hashSecret(ADMIN)]);
    await client.end();
    for (const replica of replicas)
      await eventually(
        async () => (await call('GET', `${replica.url}/v1/status`, { token: ADMIN })).status === 200,
        1000,
      );
  });
});

describe('the embedding cache across replicas', () => {
  it('replica 2 serves a hit for an input replica 1 embedded; a clear through replica 3 empties every replica', async () => {
    await admin(replicas[0]!, 'POST', '/v1/embedding-models', {
      id: 'shared-cache',
      provider: 'local',
      config: { connection: {}, options: { model: 'hash-16-v1' } },
      cache: { ttl_s: 3600 },
    });
    const user = await newKey({});
    const status = async (replica: SpawnedGateway, text: string) =>
      (await embed(replica, user.secret, text, 'shared-cache')).headers['x-embctl-cache'];
    for (const replica of replicas)
      await eventually(async () => (await embed(replica, user.secret, 'warm-up', 'shared-cache')).status === 200, 1000);
    const texts = [0, 1, 2].map((i) => `shared ${i} ${randomBytes(4).toString('hex')}`);
    for (const text of texts) {
      const first = await embed(replicas[0]!, user.secret, text, 'shared-cache');
      expect(first.headers['x-embctl-cache']).toBe('miss; hits=0');
      // In the store within the cache's flush interval (100 ms); then every replica holds it in memory too.
      for (const replica of replicas.slice(1)) {
        await eventually(async () => (await status(replica, text)) === 'hit; hits=1', 2000);
        expect((await embed(replica, user.secret, text, 'shared-cache')).body.data).toEqual(first.body.data);
      }
    }

    const cleared = await admin(replicas[2]!, 'DELETE', '/v1/cache?entity=shared-cache');
    expect(cleared.status).toBe(200);
    expect(cleared.body.deleted).toBeGreaterThanOrEqual(3);
    // Every replica drops its memory at its next catalogue check (250 ms): each asked for a text
    // it held, and nobody has embedded since the clear.
    await new Promise((r) => setTimeout(r, 500));
    const after = [];
    for (const [i, replica] of replicas.entries()) after.push(await status(replica, texts[i]!));
    expect(after).toEqual(['miss; hits=0', 'miss; hits=0', 'miss; hits=0']);
  });
});

describe('Request Logs across replicas', () => {
  it('a live stream on replica 2 shows every replica’s rows, none twice, none missing; Last-Event-ID resumes', async () => {
    const key = await newKey({});
    const stream = await connectSse(`${replicas[1]!.url}/v1/request-logs/stream?key=${key.id}`, {
      authorization: `Bearer ${ADMIN}`,
    });
    const ids: string[] = [];
    const CLIENTS = 6;
    const CALLS = 400;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < CALLS; i++) {
          const response = await embed(replicas[(c + i) % 3]!, key.secret, `c${c} i${i}`);
          expect(response.status).toBe(200);
          ids.push(String(response.headers['x-request-id']));
        }
      }),
    );
    await stream.waitFor((events) => events.length >= ids.length, 10_000);
    stream.close();
    const streamed = stream.events.map((e) => JSON.parse(e.data).id as string);
    expect(streamed.length).toBe(ids.length);
    expect(new Set(streamed)).toEqual(new Set(ids));
    const seqs = stream.events.map((e) => Number(e.id));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    const middle = stream.events[Math.floor(streamed.length / 2)]!;
    const resumed = await connectSse(`${replicas[2]!.url}/v1/request-logs/stream?key=${key.id}`, {
      authorization: `Bearer ${ADMIN}`,
      'last-event-id': middle.id!,
    });
    const rest = streamed.slice(streamed.indexOf(JSON.parse(middle.data).id) + 1);
    await resumed.waitFor((events) => events.length >= rest.length, 10_000);
    resumed.close();
    expect(resumed.events.map((e) => JSON.parse(e.data).id)).toEqual(rest);
  });

  it('`embctl logs tail -f` connected to replica 2 prints the rows served by replicas 1 and 3', async () => {
    const key = await newKey({});
    const env = { ...isolatedEnv(), EMBCTL_URL: replicas[1]!.url, EMBCTL_ADMIN_TOKEN: ADMIN };
    const tail = spawnTail(['-n', '0', '--key', key.id, '-o', 'ndjson'], env);
    await tail.following();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await embed(replicas[i % 2 === 0 ? 0 : 2]!, key.secret, `tail ${i}`);
      ids.push(String(response.headers['x-request-id']));
    }
    await eventually(async () => tail.ids().length >= ids.length, 5000);
    expect(await tail.interrupt()).toBe(0);
    // In the store's commit order, which is not the calls' order across two replicas' flushes.
    expect(tail.ids()).toHaveLength(ids.length);
    expect(new Set(tail.ids())).toEqual(new Set(ids));
  });

  it('kill -9 of one replica under load: the store stays consistent, rows equal the answered calls minus its flush window', async () => {
    const key = await newKey({});
    const victim = replicas[2]!;
    const answered: { id: string; replica: number; at: number }[] = [];
    let running = true;
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        for (let i = 0; running; i++) {
          const r = (c + i) % 3;
          const response = await embed(replicas[r]!, key.secret, `k${c} ${i}`).catch(() => undefined);
          if (response?.status === 200)
            answered.push({ id: String(response.headers['x-request-id']), replica: r, at: Date.now() });
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now();
    victim.process.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 700));
    running = false;
    await load;
    replicas[2] = await spawnGateway({ env: replicaEnv(storeUrl) });

    const client = new pg.Client({ connectionString: storeUrl });
    await client.connect();
    const stored = new Set(
      (await client.query<{ id: string }>('SELECT id FROM request_logs WHERE key_id = $1', [key.id])).rows.map(
        (r) => r.id,
      ),
    );
    await client.end();
    const missing = answered.filter((a) => !stored.has(a.id));
    // Only the killed replica's, answered in its last flush window (README: 100 ms; `at` is when the client
    // read the answer, after the row was recorded, and a loaded machine delays timers: 300 ms of room).
    for (const row of missing) {
      expect(row.replica).toBe(2);
      expect(killedAt - row.at).toBeLessThanOrEqual(300);
    }
    expect(answered.filter((a) => a.replica === 2).length).toBeGreaterThan(missing.length);
    expect((await embed(replicas[2]!, key.secret)).status).toBe(200);
  });
});

describe('a batch job across replicas', () => {
  it('two gateways run one job side by side; killed with kill -9, one leaves its lines to the other; each line once', async () => {
    const fake = await startFake(FORMATS.openai);
    fake.setDelay(300);
    const [a, b] = await Promise.all(
      [0, 1].map(() => spawnGateway({ env: replicaEnv(storeUrl), args: ['--batch-lease', '2s'] })),
    );
    try {
      await admin(a!, 'POST', '/v1/embedding-models', {
        id: 'jobs-fake',
        provider: 'openai',
        config: {
          connection: { base_url: `${fake.url}/v1`, token: TOKEN },
          options: { model: 'text-embedding-3-small' },
        },
      });
      const key = await newKey({});
      await eventually(async () => (await embed(b!, key.secret, 'ready', 'jobs-fake')).status === 200, 2000);
      const seen = () =>
        fake.requests.flatMap((r) => (r.body as { input: string[] }).input).filter((t) => t !== 'ready');
      const corpus = join(tempDir('replica-job'), 'corpus.txt');
      const LINES = 20_000;
      writeFileSync(corpus, `${Array.from({ length: LINES }, (_, i) => `replicated job line ${i}`).join('\n')}\n`);
      const viaA = { ...a!.env, EMBCTL_URL: a!.url, EMBCTL_API_KEY: key.secret };
      const submitted = await runCli(['jobs', 'submit', '-f', corpus, '--model', 'jobs-fake', '-o', 'json'], {
        env: viaA,
      });
      expect(submitted.code, submitted.stderr).toBe(0);
      const id = JSON.parse(submitted.stdout).id as string;

      // Both at work on it: each one's own metrics count inputs of the job's model.
      const inputsOf = async (g: SpawnedGateway) =>
        Number(
          /embctl_inputs_total\{model="jobs-fake\/text-embedding-3-small"[^}]*\} (\d+)/.exec(
            await (await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text(),
          )?.[1] ?? 0,
        );
      await eventually(async () => (await inputsOf(a!)) > 256 && (await inputsOf(b!)) > 256, 20_000);
      const before = seen();
      expect(new Set(before).size).toBe(before.length);
      a!.process.kill('SIGKILL');
      await a!.stop();

      const viaB = { ...b!.env, EMBCTL_URL: b!.url, EMBCTL_API_KEY: key.secret };
      const waited = await runCli(['jobs', 'wait', id, '--max-wait', '60s'], { env: viaB, timeoutMs: 70_000 });
      expect(waited.code, waited.stderr).toBe(0);
      const out = join(tempDir('replica-job-out'), 'index.jsonl');
      const downloaded = await runCli(['jobs', 'download', id, '--out', out], { env: viaB, timeoutMs: 60_000 });
      expect(downloaded.code, downloaded.stderr).toBe(0);
      const ids = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id);
      expect(ids).toHaveLength(LINES);
      expect(new Set(ids).size).toBe(LINES);
      // Every input reached the upstream; again only what the killed gateway had in flight (4 calls of ≤ 256).
      const all = seen();
      expect(new Set(all).size).toBe(LINES);
      expect(all.length - LINES).toBeLessThanOrEqual(4 * 256);
      // Tagged with the job; the killed gateway's unflushed rows are lost (README: the log buffer's bound), not B's.
      const logged = await admin(b!, 'GET', `/v1/request-logs?batch_id=${id}&limit=1000`);
      expect(logged.body.data.every((r: { batch_id: string }) => r.batch_id === id)).toBe(true);
      const loggedInputs = logged.body.data.reduce((n: number, r: { input_count: number }) => n + r.input_count, 0);
      expect(loggedInputs).toBeGreaterThanOrEqual(await inputsOf(b!));
      expect(loggedInputs).toBeLessThanOrEqual(all.length);
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
      await fake.close();
    }
  }, 120_000);
});

describe('a database outage', () => {
  it('keeps the replicas serving known keys, with no 500 and no stack trace; buffered rows arrive after recovery', async (ctx) => {
    if (!postgres.outage) return ctx.skip(); // an external server (EMBCTL_TEST_PG_URL) is not ours to stop
    const key = await newKey({});
    const limited = await newKey({ rpm: 1000 });
    // A fourth gateway that fails open: limited keys are admitted uncounted while the store is down.
    const lenient = await spawnGateway({ env: replicaEnv(storeUrl), args: ['--limits-on-store-outage', 'open'] });
    await eventually(
      async () => (await call('GET', `${lenient.url}/v1/models`, { token: limited.secret })).status === 200,
      1000,
    );
    // Load from before the outage to after the recovery: no answer may be a 500.
    const statuses: number[] = [];
    let loading = true;
    const load = Promise.all(
      [0, 1].map(async (c) => {
        for (let i = 0; loading; i++)
          statuses.push((await embed(replicas[(c + i) % 3]!, key.secret, `load ${i}`)).status);
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    await postgres.outage.stop();
    let restarted = false;
    try {
      const during = await Promise.all(replicas.map((r) => embed(r, key.secret, 'during the outage')));
      for (const r of during) expect(r.status).toBe(200);
      const refused = await embed(replicas[0]!, limited.secret, 'limits cannot be checked');
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('store_unavailable');
      expect(JSON.stringify(refused.body)).not.toMatch(/at .*\.js:\d+/);
      expect((await embed(lenient, limited.secret, 'admitted uncounted')).status).toBe(200);
      const ready = await call('GET', `${replicas[0]!.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.reason).toBe('store_unreachable');
      const ids = during.map((r) => String(r.headers['x-request-id']));
      await postgres.outage.start();
      restarted = true;
      for (const replica of replicas)
        await eventually(async () => (await call('GET', `${replica.url}/readyz`)).status === 200, 15_000);
      await eventually(async () => {
        const found = await Promise.all(
          ids.map(async (id) => (await admin(replicas[0]!, 'GET', `/v1/request-logs/${id}`)).status),
        );
        return found.every((status) => status === 200);
      }, 15_000);
    } finally {
      if (!restarted) await postgres.outage.start();
      loading = false;
      await load;
      await lenient.stop();
    }
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  });
});

describe.each(['sqlite', 'postgres'])('gateway start --workers 2 over %s', (engine) => {
  let gateway: SpawnedGateway;
  beforeAll(async () => {
    const env =
      engine === 'sqlite' ? isolatedEnv({ EMBCTL_ADMIN_TOKEN: ADMIN }) : replicaEnv(await postgres.database());
    gateway = await spawnGateway({ env, args: ['--workers', '2'] });
  }, 60_000);
  afterAll(async () => {
    expect(await gateway?.stop()).toBe(0);
  });

  // Fresh connections are handed to the workers in turn.
  const fresh = { connection: 'close' };

  it('serves the port with both workers, with exact limits across them and one log stream', async () => {
    const served = await Promise.all(
      Array.from(
        { length: 12 },
        async () => (await call('GET', `${gateway.url}/readyz`, { headers: fresh })).body.instance,
      ),
    );
    expect(new Set(served).size).toBe(2);

    await awayFromMinuteEnd();
    const key = (
      await call('POST', `${gateway.url}/v1/api-keys`, { token: ADMIN, body: { name: 'w', limits: { rpm: 10 } } })
    ).body;
    await eventually(async () => {
      const seen = await Promise.all(
        [0, 1, 2, 3].map(
          async () => (await call('GET', `${gateway.url}/v1/models`, { token: key.secret, headers: fresh })).status,
        ),
      );
      return seen.every((status) => status === 200);
    }, 1000);
    const stream = await connectSse(`${gateway.url}/v1/request-logs/stream?key=${key.id}`, {
      authorization: `Bearer ${ADMIN}`,
    });
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call('POST', `${gateway.url}/v1/embeddings`, {
          token: key.secret,
          headers: fresh,
          body: { model: 'local', input: `w ${i}` },
        }),
      ),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(20);
    const ids = responses.map((r) => String(r.headers['x-request-id']));
    await stream.waitFor((events) => events.length >= 30, 5000);
    stream.close();
    expect(new Set(stream.events.map((e) => JSON.parse(e.data).id))).toEqual(new Set(ids));
  });
});
