/**
 * The hardening break-test, reproduced: what one API-key holder, one admin write or one upstream
 * could do to a real gateway process. Every request here runs while a probe calls /healthz every
 * 10 ms; no answer may be a 500, and no request may hold the event loop (the probe) past 100 ms.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { FORMATS, TOKEN } from '../fakes/formats.js';
import { startFake, type FakeUpstream } from '../fakes/upstream.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call } from '../helpers/http.js';

const UPSTREAM_TOKEN = TOKEN;

let gateway: SpawnedGateway;
let fake: FakeUpstream;
let worstOverall = 0;
let worstLag = 0;
let fivehundreds = 0;
let cases = 0;
let probe: ReturnType<typeof startProbe>;
/** Below the gateway's per-address connection cap, which this suite sets to 64. */
const agent = new Agent({ connections: 32 });

/**
 * Calls /healthz back to back from a worker thread (its own event loop, so the test's own work
 * does not count) and reports the slowest answer since the last report: a blocked gateway shows here.
 */
function startProbe(url: string): { report(): Promise<number>; stop(): Promise<number> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     let worst = 0;
     parentPort.on('message', (m) => { parentPort.postMessage(worst); worst = 0; if (m === 'stop') process.exit(0); });
     (async () => {
       for (;;) {
         const started = performance.now();
         try { await (await fetch(workerData + '/healthz')).text(); } catch {}
         worst = Math.max(worst, performance.now() - started);
         await new Promise((r) => setTimeout(r, 10));
       }
     })();`,
    { eval: true, workerData: url },
  );
  const ask = (message: string) =>
    new Promise<number>((resolve) => {
      worker.once('message', resolve);
      worker.postMessage(message);
    });
  return { report: () => ask('report'), stop: () => ask('stop') };
}

async function send(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
) {
  cases++;
  const response = await request(`${gateway.url}${path}`, {
    dispatcher: agent,
    method: method as 'POST',
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined || options.raw !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.body.text();
  if (
    response.statusCode >= 500 &&
    response.statusCode !== 502 &&
    response.statusCode !== 503 &&
    response.statusCode !== 504
  )
    fivehundreds++;
  expect(text).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+|\.js:\d+/);
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    body: /^[[{]/.test(text) ? JSON.parse(text) : undefined,
  };
}

beforeAll(async () => {
  fake = await startFake(FORMATS.openai);
  gateway = await spawnGateway({
    env: isolatedEnv({ HOSTILE_API_KEY: UPSTREAM_TOKEN, OPENAI_API_KEY: UPSTREAM_TOKEN }),
    args: ['--max-connections-per-ip', '64'],
  });
  const created = await send('POST', '/v1/embedding-models', {
    token: gateway.adminToken,
    body: {
      id: 'up',
      provider: 'openai-compatible',
      config: {
        connection: {
          base_url: `${fake.url}/v1`,
          token: '${env:HOSTILE_API_KEY}',
          headers: { 'x-password': 'hunter2-header-secret-value' },
        },
        options: { model: 'fake-embed' },
      },
      dimensions: 8,
    },
  });
  expect(created.status).toBe(201);
  probe = startProbe(gateway.url);
});
afterAll(async () => {
  await probe.stop();
  await agent.close();
  await gateway.stop();
  await fake.close();
  // The totals the closing note reports.
  console.log(
    `hostile-input: ${cases} cases, ${fivehundreds} answers of 500, slowest /healthz round trip ` +
      `${worstOverall.toFixed(1)} ms, longest gateway event-loop stall ${worstLag.toFixed(1)} ms`,
  );
});
/** The gateway's own longest event-loop stall since the last scrape (prom-client resets it on each). */
async function gatewayLagMs(): Promise<number> {
  const text = await (await request(`${gateway.url}/metrics`, { dispatcher: agent })).body.text();
  return (
    Number(/^embctl_process_nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? Number.NaN) * 1000
  );
}

beforeEach(async () => {
  await probe.report();
  await gatewayLagMs();
});
afterEach(async () => {
  const worst = await probe.report();
  const lag = await gatewayLagMs();
  worstOverall = Math.max(worstOverall, worst);
  worstLag = Math.max(worstLag, lag);
  expect(fivehundreds).toBe(0);
  // What the gateway could not answer /healthz for; the probe's round trip also counts the machine's
  // other work (two test workers share two cores), so it gets room for scheduling on top.
  expect(lag).toBeLessThan(100);
  expect(worst).toBeLessThan(250);
});

describe('any API-key holder', () => {
  it('cannot freeze the gateway with one long word, a long run of spaces or CJK (item 1)', async () => {
    for (const input of [
      'x'.repeat(1_000_000),
      `${' '.repeat(1_000_000)}a`,
      '漢'.repeat(300_000),
      ['y'.repeat(8000), 'z'.repeat(200_000)],
    ]) {
      const answer = await send('POST', '/v1/embeddings', { token: gateway.apiKey, body: { model: 'local', input } });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('context_length_exceeded');
    }
    // Long but within the limit: counted, embedded, and usage reported.
    const ok = await send('POST', '/v1/embeddings', {
      token: gateway.apiKey,
      body: { model: 'local', input: `${'word '.repeat(3999)}word` },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.usage.prompt_tokens).toBe(4000);
  });

  it('cannot fill the disk or the heap with a huge model name, and the error does not echo it (item 2)', async () => {
    // 1 MB: enough to show the cap (the break-test's 7 MB only made each parse slower).
    const model = `local/${'m'.repeat(1_000_000)}`;
    const answer = await send('POST', '/v1/embeddings', { token: gateway.apiKey, body: { model, input: 'x' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ param: 'model', code: 'model_too_long' });
    expect(answer.text.length).toBeLessThan(1000);
    const logs = await send('GET', '/v1/request-logs?limit=5', { token: gateway.adminToken });
    expect(logs.status).toBe(200);
    for (const row of logs.body.data) expect((row.requested_model ?? '').length).toBeLessThanOrEqual(256);
  });

  it('cannot make special-token text a 500', async () => {
    const answer = await send('POST', '/v1/embeddings', {
      token: gateway.apiKey,
      body: { model: 'local', input: 'before <|endoftext|> after '.repeat(500) },
    });
    expect(answer.status).toBe(200);
  });

  it('cannot blow a budget with parallel calls (item 5)', async () => {
    await send('POST', '/v1/embedding-models', {
      token: gateway.adminToken,
      body: {
        id: 'priced',
        provider: 'local',
        config: { options: { model: 'hash-8-v1' } },
        pricing: { input_per_million_tokens: 1000 },
      },
    });
    const key = await send('POST', '/v1/api-keys', {
      token: gateway.adminToken,
      body: { name: 'budgeted', limits: { budget_usd_day: 0.001 } },
    });
    // "hello world" is 2 tokens: $0.002 a call, twice the day's budget.
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        send('POST', '/v1/embeddings', { token: key.body.secret, body: { model: 'priced', input: 'hello world' } }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200).length;
    expect(ok).toBe(1);
    expect(answers.filter((a) => a.status === 402 && a.body.error.code === 'insufficient_quota')).toHaveLength(99);
    const usage = await send('GET', `/v1/usage?key=${key.body.id}`, { token: gateway.adminToken });
    expect(usage.body.totals.cost_usd).toBeCloseTo(0.002, 9);
  });
});

describe('one admin write', () => {
  it(
    'a token that looks sealed is sealed like any other, and a damaged entity takes down nothing else (item ' + '3)',
    async () => {
      const lookalike = await send('POST', '/v1/embedding-models', {
        token: gateway.adminToken,
        body: { id: 'lookalike', provider: 'openai', config: { connection: { token: 'enc:v1:AAAA' } } },
      });
      expect(lookalike.status).toBe(201);
      expect((await send('GET', '/v1/embedding-models/lookalike', { token: gateway.adminToken })).status).toBe(200);
      // Damage one stored credential by hand, as a copy made under another secret key would be.
      const db = new Database(join(gateway.env.EMBCTL_DATA_DIR!, 'embctl.db'));
      const row = db.prepare("SELECT body FROM entities WHERE id = 'lookalike'").get() as { body: string };
      const body = JSON.parse(row.body);
      body.config.connection.token = 'enc:v1:AAAA';
      db.prepare("UPDATE entities SET body = ? WHERE id = 'lookalike'").run(JSON.stringify(body));
      db.prepare("UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = 'catalogue_version'").run();
      db.close();
      await new Promise((r) => setTimeout(r, 1100));
      expect(
        (
          await send('POST', '/v1/embeddings', {
            token: gateway.apiKey,
            body: { model: 'local', input: 'still served' },
          })
        ).status,
      ).toBe(200);
      expect((await send('GET', '/v1/models', { token: gateway.apiKey })).status).toBe(200);
      const list = await send('GET', '/v1/embedding-models', { token: gateway.adminToken });
      expect(list.status).toBe(200);
      expect(list.body.find((e: { id: string }) => e.id === 'lookalike').unreadable).toMatch(/cannot be decrypted/);
      const routed = await send('POST', '/v1/embeddings', {
        token: gateway.apiKey,
        body: { model: 'lookalike', input: 'x' },
      });
      expect(routed.status).toBe(503);
      expect(routed.body.error.code).toBe('entity_unreadable');
      const doctor = await runCli(
        [
          'doctor',
          '--url',
          gateway.url,
          '--api-key',
          gateway.apiKey,
          '--admin-token',
          gateway.adminToken,
          '-o',
          'table',
        ],
        { env: gateway.env },
      );
      expect(doctor.stdout).toMatch(/stored credentials: lookalike/);
      const listed = await runCli(
        ['models', 'list', '--url', gateway.url, '--admin-token', gateway.adminToken, '-o', 'table'],
        { env: gateway.env },
      );
      expect(listed.stdout).toMatch(/lookalike.*UNREADABLE/);
      expect((await send('DELETE', '/v1/embedding-models/lookalike', { token: gateway.adminToken })).status).toBe(200);
    },
  );

  it(
    'cannot move a stored credential to another host without restating it, nor read the gateway environment (item ' +
      '10)',
    async () => {
      const moved = await send('PATCH', '/v1/embedding-models/up', {
        token: gateway.adminToken,
        body: { config: { connection: { base_url: 'http://127.0.0.1:9/v1' } } },
      });
      expect(moved.status).toBe(400);
      expect(moved.body.error.code).toBe('credential_destination_changed');
      for (const name of ['PATH', 'EMBCTL_SECRET_KEY', 'EMBCTL_ADMIN_TOKEN']) {
        const reading = await send('PATCH', '/v1/embedding-models/up', {
          token: gateway.adminToken,
          body: { config: { connection: { token: `\${env:${name}}` } } },
        });
        expect(reading.status).toBe(400);
        expect(reading.body.error.code).toBe('env_reference_not_allowed');
      }
      const restated = await send('PATCH', '/v1/embedding-models/up?keep_credentials=true', {
        token: gateway.adminToken,
        body: { config: { connection: { base_url: `${fake.url}/v1/` } } },
      });
      expect(restated.status).toBe(200);
    },
  );

  it.each([
    // Raw text: the test runner itself could not print a 5 000-deep object.
    [
      'nesting 5 000 deep in metadata',
      `{"id":"deep","provider":"local","metadata":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      'too_deep',
    ],
    [
      'a timeout past 32-bit timers',
      JSON.stringify({ id: 't', provider: 'local', config: { connection: { timeout: 3_000_000_000 } } }),
      'invalid_entity',
    ],
    [
      'CRLF in a header value',
      JSON.stringify({
        id: 'h',
        provider: 'openai',
        config: { connection: { headers: { 'x-a': 'ok\r\nx-injected: 1' } } },
      }),
      'invalid_entity',
    ],
    [
      'a nested quantifier',
      JSON.stringify({ id: 'q', provider: 'local', models: { include: ['(a+)+'], exclude: [] } }),
      'invalid_entity',
    ],
    [
      'a 1 MB description',
      JSON.stringify({ id: 'big', provider: 'local', description: 'd'.repeat(1_000_000) }),
      'invalid_entity',
    ],
  ])('refuses %s with 400 (items 14, 16, 20)', async (_what, raw, code) => {
    const answer = await send('POST', '/v1/embedding-models', { token: gateway.adminToken, raw });
    expect([400, 413]).toContain(answer.status);
    if (answer.status === 400) expect(answer.body.error.code).toBe(code);
  });

  it('a deep PATCH is refused too, and `models list -o json` keeps working (item 14)', async () => {
    const answer = await send('PATCH', '/v1/embedding-models/local', {
      token: gateway.adminToken,
      raw: `{"metadata":${'['.repeat(4500)}${']'.repeat(4500)}}`,
    });
    expect(answer.status).toBe(400);
    const listed = await runCli(
      ['models', 'list', '--url', gateway.url, '--admin-token', gateway.adminToken, '-o', 'json'],
      { env: gateway.env },
    );
    expect(listed.code).toBe(0);
  });

  it('revocation cannot be undone by a racing PATCH (item 4)', async () => {
    for (let round = 0; round < 6; round++) {
      const key = await send('POST', '/v1/api-keys', { token: gateway.adminToken, body: { name: `race-${round}` } });
      await Promise.all([
        send('POST', `/v1/api-keys/${key.body.id}/revoke`, { token: gateway.adminToken }),
        ...Array.from({ length: 4 }, (_, i) =>
          send('PATCH', `/v1/api-keys/${key.body.id}`, {
            token: gateway.adminToken,
            body: { metadata: { round: String(i) }, limits: { rpm: 100 + i } },
          }),
        ),
      ]);
      const after = await send('GET', `/v1/api-keys/${key.body.id}`, { token: gateway.adminToken });
      expect(after.body.revoked_at).not.toBeNull();
      expect(after.body.enabled).toBe(false);
      // Re-enabling a revoked key is not possible either.
      await send('PATCH', `/v1/api-keys/${key.body.id}`, { token: gateway.adminToken, body: { enabled: true } });
      expect(
        (await send('POST', '/v1/embeddings', { token: key.body.secret, body: { model: 'local', input: 'x' } })).status,
      ).toBe(401);
    }
  });
});

describe('one upstream', () => {
  const embed = (input: unknown = 'x', extra: Record<string, unknown> = {}) =>
    send('POST', '/v1/embeddings', { token: gateway.apiKey, body: { model: 'up', input, ...extra } });

  it('echoing the token at any offset around the message cut leaks none of it (items 6, 7)', async () => {
    for (const secret of [UPSTREAM_TOKEN, 'hunter2-header-secret-value']) {
      for (let offset = 440; offset <= 520; offset += 4) {
        fake.script({ status: 400, body: { error: { message: `${'e'.repeat(offset)}${secret} tail` } } });
        const answer = await embed();
        expect(answer.status).toBe(400);
        for (let cut = 8; cut <= secret.length; cut += 4) expect(answer.text).not.toContain(secret.slice(0, cut));
      }
    }
  });

  it('a token echoed as the served model reaches neither the caller, the log nor /metrics (item 8)', async () => {
    fake.script({ model: `stolen-${UPSTREAM_TOKEN}-${'z'.repeat(5000)}` });
    const answer = await embed();
    expect(answer.status).toBe(200);
    expect(answer.text).not.toContain(UPSTREAM_TOKEN);
    expect(answer.body.model.length).toBeLessThanOrEqual(260);
    const logs = await send('GET', '/v1/request-logs?limit=1', { token: gateway.adminToken });
    expect(JSON.stringify(logs.body)).not.toContain(UPSTREAM_TOKEN);
    const metrics = await send('GET', '/metrics');
    expect(metrics.text).not.toContain(UPSTREAM_TOKEN);
  });

  it('an oversized answer is a 502, read no further and not retried (item 11)', async () => {
    const before = fake.requests.length;
    fake.script({ raw: `{"object":"list","data":[{"index":0,"embedding":[${'0.1,'.repeat(1_000_000)}0.1]}]}` });
    const answer = await embed();
    expect(answer.status).toBe(502);
    expect(answer.body.error.code).toBe('upstream_response_too_large');
    expect(fake.requests.length - before).toBe(1);
  });

  it.each([
    [
      'NaN in a long base64 vector',
      () => base64Of(Array.from({ length: 512 }, (_, i) => (i === 300 ? Number.NaN : 0.5))),
    ],
    ['+Inf in a short base64 vector', () => base64Of([0.5, Number.POSITIVE_INFINITY, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])],
    ['5e38, beyond float32', () => [5e38, 0, 0, 0, 0, 0, 0, 0]],
    ['5e38 in a long array', () => [...Array.from({ length: 511 }, () => 0.25), 5e38]],
  ])('%s is a 502, whatever encoding the caller asked (item 15)', async (_what, vector) => {
    for (const encoding of ['float', 'base64']) {
      const dims = Array.isArray(vector()) ? (vector() as number[]).length : 0;
      fake.script({
        raw: JSON.stringify({
          object: 'list',
          data: [{ index: 0, embedding: vector() }],
          model: 'fake-embed',
          usage: { prompt_tokens: 1, total_tokens: 1 },
        }),
      });
      const answer = await embed('x', { encoding_format: encoding, ...(dims ? { dimensions: dims } : {}) });
      expect([502]).toContain(answer.status);
      expect(answer.body.error.code).toBe('upstream_bad_response');
    }
  });
});

function base64Of(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

describe('resources and parameters', () => {
  it('1 000 idle sockets from one address do not lock out another (item 12)', async () => {
    const sockets: Socket[] = [];
    await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<void>((resolve) => {
            const socket = connect(
              { host: '127.0.0.1', port: Number(new URL(gateway.url).port), localAddress: '127.0.0.2' },
              () => resolve(),
            );
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            sockets.push(socket);
          }),
      ),
    );
    const answer = await send('POST', '/v1/embeddings', {
      token: gateway.apiKey,
      body: { model: 'local', input: 'still here' },
    });
    expect(answer.status).toBe(200);
    for (const socket of sockets) socket.destroy();
  });

  it.each([
    '/v1/request-logs?since=1h&since=2h',
    '/v1/request-logs?model=a&model=b',
    '/v1/request-logs?status=200&status=500',
    '/v1/usage?group_by=model&group_by=key',
    '/v1/usage?key=a&key=b',
    `/v1/request-logs?status=${Array(1500).fill('200').join(',')}`,
    '/v1/usage?since=10000000000d',
    '/v1/request-logs/stream?after=0&status=abc',
  ])('%s is a 400 naming the parameter (item 13)', async (path) => {
    const answer = await send('GET', path.slice(0, 200) === path ? path : path, { token: gateway.adminToken });
    expect(answer.status).toBe(400);
    expect(answer.body.error.param).toMatch(/since|model|status|group_by|key/);
  });

  it(
    'fuzzes every admin and consumer route with repeated parameters, deep nesting, huge strings and pathological ' +
      'tokens',
    async () => {
      const routes = [
        '/v1/embeddings',
        '/v1/embedding-models',
        '/v1/embedding-models/local',
        '/v1/api-keys',
        '/v1/request-logs',
        '/v1/usage',
        '/v1/models',
        '/v1/models/local',
      ];
      const huge = fc.oneof(
        fc.constant('x'.repeat(100_000)),
        fc.constant('漢'.repeat(20_000)),
        fc.constant(' '.repeat(50_000)),
        fc.string({ maxLength: 50 }),
      );
      const deep = fc.integer({ min: 30, max: 3000 }).map((n) => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`));
      const value = fc.oneof(huge, deep, fc.jsonValue({ maxDepth: 4 }));
      const query = fc.array(
        fc.tuple(
          fc.constantFrom('since', 'until', 'model', 'status', 'key', 'group_by', 'limit', 'cursor', 'offset', 'page'),
          fc.oneof(fc.string({ maxLength: 20 }), fc.constant('10000000000d')),
        ),
        { maxLength: 4 },
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          fc.constantFrom('GET', 'POST', 'PATCH', 'PUT'),
          query,
          fc.record({ model: value, input: value, metadata: value, name: value }, { requiredKeys: [] }),
          async (route, method, params, body) => {
            const qs = params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
            const token =
              route === '/v1/embeddings' || route.startsWith('/v1/models') ? gateway.apiKey : gateway.adminToken;
            const answer = await send(
              method === 'GET' ? 'GET' : method,
              `${route}${qs ? `?${qs}` : ''}`,
              method === 'GET' ? { token } : { token, body },
            );
            expect(answer.status).not.toBe(500);
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});

describe('the --detach log and models diff (items 9, 19)', () => {
  it(
    'a detached first start keeps its secrets out of gateway.log and shows them to the terminal that ' + 'asked',
    async () => {
      const env = isolatedEnv();
      const started = await runCli(['gateway', 'start', '--detach', '--port', '0'], { env, timeoutMs: 30_000 });
      expect(started.code).toBe(0);
      const profile = JSON.parse(readFileSync(join(env.EMBCTL_CONFIG_DIR!, 'config.json'), 'utf8')).profiles.local;
      expect(started.stderr).toContain(profile.apiKey);
      const log = readFileSync(join(env.EMBCTL_DATA_DIR!, 'gateway.log'), 'utf8');
      expect(log).not.toContain(profile.apiKey);
      expect(log).not.toContain(profile.adminToken);
      await runCli(['gateway', 'stop'], { env });
    },
  );

  it('models diff right after apply reports nothing, and a changed token is seen', async () => {
    const file = join(gateway.env.HOME!, 'models.yaml');
    const write = (token: string) =>
      writeFileSync(
        file,
        `id: difftest\nprovider: openai\nconfig:\n  connection:\n    token: ${token}\n  options:\n    model: ` +
          `text-embedding-3-small\n`,
      );
    write('sk-first-token-abcdefghijkl');
    const args = ['--url', gateway.url, '--admin-token', gateway.adminToken];
    expect((await runCli(['models', 'apply', '-f', file, ...args], { env: gateway.env })).code).toBe(0);
    expect((await runCli(['models', 'diff', '-f', file, ...args], { env: gateway.env })).code).toBe(0);
    write('sk-other-token-abcdefghzzzz');
    expect((await runCli(['models', 'diff', '-f', file, ...args], { env: gateway.env })).code).toBe(1);
  });
});

describe('two gateways on one data dir (items 4, 17)', () => {
  it(
    'starting together make one admin token and one default key, and a revoke through one is never undone by a ' +
      'PATCH through the other',
    async () => {
      const data = isolatedEnv().EMBCTL_DATA_DIR!;
      const gateways = await Promise.all(
        Array.from({ length: 3 }, () =>
          spawnGateway({ env: isolatedEnv({ EMBCTL_DATA_DIR: data }) }).catch((error: Error) => error),
        ),
      );
      // A gateway that did not start says why (its own output is in the message).
      expect(gateways.filter((g) => g instanceof Error).map((error) => error.message)).toEqual([]);
      const started = gateways as SpawnedGateway[];
      const db = new Database(join(data, 'embctl.db'), { readonly: true });
      expect((db.prepare('SELECT COUNT(*) AS n FROM api_keys').get() as { n: number }).n).toBe(1);
      expect(
        (db.prepare("SELECT COUNT(*) AS n FROM settings WHERE name = 'admin_token_hash'").get() as { n: number }).n,
      ).toBe(1);
      db.close();
      // Exactly one of them was the first start: the others hold no admin token of their own.
      const admins = started.filter((g) => g.adminToken);
      expect(new Set(admins.map((g) => g.adminToken)).size).toBe(1);
      const [a, b] = [admins[0]!, started.find((g) => g !== admins[0])!];
      for (let round = 0; round < 6; round++) {
        const key = await call('POST', `${a.url}/v1/api-keys`, {
          token: a.adminToken,
          body: { name: `cross-${round}` },
        });
        await Promise.all([
          call('POST', `${a.url}/v1/api-keys/${key.body.id}/revoke`, { token: a.adminToken }),
          ...Array.from({ length: 3 }, (_, i) =>
            call('PATCH', `${b.url}/v1/api-keys/${key.body.id}`, {
              token: a.adminToken,
              body: { metadata: { n: String(i) } },
            }),
          ),
        ]);
        const after = await call('GET', `${b.url}/v1/api-keys/${key.body.id}`, { token: a.adminToken });
        expect(after.body.revoked_at).not.toBeNull();
      }
      await Promise.all(started.map((g) => g.stop()));
    },
  );
});
