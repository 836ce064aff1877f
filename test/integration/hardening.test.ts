/**
 * Bad input, hostile clients and every credential mistake: the gateway answers with the documented
 * status in OpenAI's shape, leaks nothing, and keeps serving.
 */
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: SpawnedGateway;
let secrets: string[];
beforeAll(async () => {
  gateway = await spawnGateway({ args: ['--request-timeout', '1s'] });
  secrets = [gateway.apiKey, gateway.adminToken];
});
afterAll(async () => {
  await gateway.stop();
});

/** A well-formed answer: success, or OpenAI's error shape with a 4xx status; never a stack or a secret. */
function wellFormed(response: { status: number; body: any }, raw: string): void {
  expect(response.status).toBeLessThan(500);
  if (response.status >= 400)
    expect(Object.keys(response.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(raw).not.toMatch(/\bat \S+ \(|node_modules|\.ts:\d+|\.js:\d+/);
  for (const secret of secrets) expect(raw).not.toContain(secret);
}

async function post(path: string, body: unknown, token: string) {
  const response = await fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const raw = await response.text();
  return { status: response.status, body: raw ? JSON.parse(raw) : undefined, raw };
}

describe('property-based fuzzing', () => {
  const inputs = fc.oneof(
    fc.string(),
    fc.array(fc.string(), { maxLength: 5 }),
    fc.array(fc.integer({ min: -5, max: 200_000 }), { maxLength: 5 }),
    fc.array(fc.array(fc.oneof(fc.integer(), fc.double(), fc.string()), { maxLength: 3 }), { maxLength: 3 }),
    fc.jsonValue(),
  );
  const bodies = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        model: fc.oneof(fc.constant('local'), fc.constant('local/hash-16-v1'), fc.string(), fc.jsonValue()),
        input: inputs,
        encoding_format: fc.oneof(fc.constant('float'), fc.constant('base64'), fc.jsonValue()),
        dimensions: fc.oneof(fc.integer({ min: -10, max: 10_000 }), fc.double(), fc.jsonValue()),
        user: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ),
  );

  it('POST /v1/embeddings: 2 000 generated bodies, every answer well-formed', async () => {
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const response = await post('/v1/embeddings', body, gateway.apiKey);
        wellFormed(response, response.raw);
      }),
      { numRuns: 2000 },
    );
    expect((await embeddingsCall(gateway.url, gateway.apiKey, { model: 'local', input: 'still serving' })).status).toBe(
      200,
    );
  });

  it(
    'POST /v1/embedding-models and /v1/api-keys: 1 000 generated bodies each, 201 or a 400 naming the ' + 'field',
    async () => {
      const entity = fc.record(
        {
          id: fc.oneof(fc.string(), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.jsonValue()),
          provider: fc.oneof(fc.constantFrom('local', 'openai', 'cohere', 'nope'), fc.jsonValue()),
          config: fc.oneof(
            fc.jsonValue(),
            fc.record({ connection: fc.jsonValue(), options: fc.jsonValue() }, { requiredKeys: [] }),
          ),
          models: fc.oneof(
            fc.jsonValue(),
            fc.record({ include: fc.array(fc.string()), exclude: fc.array(fc.string()) }),
          ),
          dimensions: fc.jsonValue(),
          tags: fc.jsonValue(),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof(entity, fc.jsonValue()), async (body) => {
          const response = await post('/v1/embedding-models', body, gateway.adminToken);
          wellFormed(response, response.raw);
          expect([201, 400]).toContain(response.status);
          if (response.status === 201)
            await call('DELETE', `${gateway.url}/v1/embedding-models/${encodeURIComponent(response.body.id)}`, {
              token: gateway.adminToken,
            });
        }),
        { numRuns: 1000 },
      );
      const key = fc.record(
        { name: fc.jsonValue(), expires_at: fc.jsonValue(), metadata: fc.jsonValue(), limits: fc.jsonValue() },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.oneof(key, fc.jsonValue()), async (body) => {
          const response = await post('/v1/api-keys', body, gateway.adminToken);
          wellFormed(response, response.raw);
          expect([201, 400]).toContain(response.status);
        }),
        { numRuns: 1000 },
      );
      expect(
        (await call('GET', `${gateway.url}/v1/embedding-models/local`, { token: gateway.adminToken })).status,
      ).toBe(200);
    },
  );
});

describe('credentials: each mistake gets its status and leaks nothing', () => {
  it.each([
    ['no key', undefined, '/v1/embeddings', 401, 'missing_api_key'],
    ['a wrong key', 'emb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '/v1/embeddings', 401, 'invalid_api_key'],
    ['the admin token on the consumer route', 'ADMIN', '/v1/embeddings', 401, 'invalid_api_key'],
    ['a consumer key on an admin route', 'KEY', '/v1/embedding-models', 403, 'admin_token_required'],
    ['no token on an admin route', undefined, '/v1/api-keys', 401, 'missing_admin_token'],
    ['a wrong admin token', 'embadm_wrong', '/v1/request-logs', 401, 'invalid_admin_token'],
  ])('%s', async (_name, credential, path, status, code) => {
    const token = credential === 'ADMIN' ? gateway.adminToken : credential === 'KEY' ? gateway.apiKey : credential;
    const method = path === '/v1/embeddings' ? 'POST' : 'GET';
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(method === 'POST' ? { body: JSON.stringify({ model: 'local', input: 'x' }) } : {}),
    });
    const raw = await response.text();
    expect(response.status).toBe(status);
    expect(JSON.parse(raw).error.code).toBe(code);
    wellFormed({ status: 400, body: JSON.parse(raw) }, raw);
  });

  it('revoked, expired and constrained keys', async () => {
    const make = async (body: Record<string, unknown>) =>
      (await call('POST', `${gateway.url}/v1/api-keys`, { token: gateway.adminToken, body: { name: 'case', ...body } }))
        .body;
    const revoked = await make({});
    await call('POST', `${gateway.url}/v1/api-keys/${revoked.id}/revoke`, { token: gateway.adminToken });
    const expired = await make({ expires_at: '2020-01-01T00:00:00Z' });
    const constrained = await make({ metadata: { ai_models_exclude: 'hash-.*' } });
    for (const [secret, status, code] of [
      [revoked.secret, 401, 'invalid_api_key'],
      [expired.secret, 401, 'invalid_api_key'],
      [constrained.secret, 403, 'model_not_allowed'],
    ] as const) {
      const response = await post('/v1/embeddings', { model: 'local', input: 'x' }, secret);
      expect(response.status).toBe(status);
      expect(response.body.error.code).toBe(code);
      expect(response.raw).not.toContain(secret);
    }
  });
});

describe('hostile clients', () => {
  it('closes a connection that sends its request too slowly (slowloris), and keeps serving', async () => {
    const url = new URL(gateway.url);
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () =>
        socket.write(
          'POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ' +
            '100\r\n\r\n{"mod',
        ),
      );
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
    });
    // Dropped: a 408, or (the idle-socket timeout fires first) a close with no answer at all.
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await embeddingsCall(gateway.url, gateway.apiKey, { model: 'local', input: 'x' })).status).toBe(200);
  });

  it('refuses oversized headers with 431', async () => {
    const response = await fetch(`${gateway.url}/healthz`, { headers: { 'x-padding': 'a'.repeat(20_000) } });
    expect(response.status).toBe(431);
  });
});

describe('where it listens', () => {
  it('serves HTTPS with --tls-cert and --tls-key, on any address', async () => {
    const dir = tempDir('tls');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const tls = await spawnGateway({
      args: ['--host', '0.0.0.0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
    });
    expect(tls.url).toMatch(/^https:\/\//);
    const dispatcher = new Agent({ connect: { ca: readFileSync(join(dir, 'cert.pem')) } });
    const response = await request(`${tls.url.replace('0.0.0.0', '127.0.0.1')}/v1/embeddings`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tls.apiKey}` },
      body: JSON.stringify({ model: 'local', input: 'over TLS' }),
    });
    expect(response.statusCode).toBe(200);
    await response.body.dump();
    await dispatcher.close();
    await tls.stop();
  });

  it('refuses a non-loopback address without TLS unless --insecure', async () => {
    const refused = await runCli(['gateway', 'start', '--host', '0.0.0.0', '--port', '0'], { env: isolatedEnv() });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to listen on 0.0.0.0 without TLS');
    const insecure = await spawnGateway({ args: ['--host', '0.0.0.0', '--insecure'] });
    expect(insecure.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    const local = insecure.url.replace('0.0.0.0', '127.0.0.1');
    expect((await fetch(`${local}/healthz`)).status).toBe(200);
    await insecure.stop();
  });
});
