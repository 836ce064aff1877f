/** API keys over HTTP: the secret once, hashes at rest, revocation and expiry at once, per-key model constraints. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: InjectedGateway;
const keys = (path = '') => `${gateway.url}/v1/api-keys${path}`;
const admin = (method: string, path = '', body?: unknown) =>
  call(method, keys(path), { token: gateway.adminToken, body });
const embed = (token: string, model = 'local') => embeddingsCall(gateway.url, token, { model, input: 'hello' });

beforeAll(async () => {
  gateway = await injectGateway();
});
afterAll(async () => {
  await gateway.close();
});

describe('API keys', () => {
  it('returns the secret once; reads show only a redacted form; only a hash is stored', async () => {
    const created = await admin('POST', '', { name: 'ci-pipeline' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/v1/api-keys/${created.body.id}`);
    const { secret, id } = created.body;
    expect(secret).toMatch(/^emb_[A-Za-z0-9_-]{43}$/);
    expect(created.body.redacted).toBe(`emb_…${secret.slice(-4)}`);
    expect(created.body).not.toHaveProperty('hash');

    const read = await admin('GET', `/${id}`);
    expect(read.body).not.toHaveProperty('secret');
    expect(read.body).not.toHaveProperty('hash');
    expect(JSON.stringify((await admin('GET')).body)).not.toContain(secret);
    expect((await embed(secret)).status).toBe(200);

    const db = readFileSync(join(gateway.dataDir, 'embctl.db'));
    expect(db.includes(Buffer.from(secret))).toBe(false);
    expect(db.includes(Buffer.from(gateway.adminToken))).toBe(false);
  });

  it('a revoked key gets 401 at once', async () => {
    const { body } = await admin('POST', '', { name: 'to-revoke' });
    expect((await embed(body.secret)).status).toBe(200);
    const revoked = await admin('POST', `/${body.id}/revoke`);
    expect(revoked.body).toMatchObject({ enabled: false });
    expect(revoked.body.revoked_at).toBeTruthy();
    const refused = await embed(body.secret);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain('was revoked');
    expect(JSON.stringify(refused.body)).not.toContain(body.secret);
  });

  it('an expired or disabled key gets 401; re-enabling works', async () => {
    const { body } = await admin('POST', '', {
      name: 'short-lived',
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect((await embed(body.secret)).status).toBe(200);
    await admin('PATCH', `/${body.id}`, { expires_at: new Date(Date.now() - 1000).toISOString() });
    const expired = await embed(body.secret);
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toContain('expired');
    await admin('PATCH', `/${body.id}`, { expires_at: null, enabled: false });
    expect((await embed(body.secret)).body.error.message).toContain('disabled');
    await admin('PATCH', `/${body.id}`, { enabled: true });
    expect((await embed(body.secret)).status).toBe(200);
  });

  it('validates key bodies and patches only what is named', async () => {
    expect((await admin('POST', '', {})).body.error).toMatchObject({ param: 'name' });
    expect((await admin('POST', '', { name: 'x', expires_at: 'tomorrow' })).body.error.param).toBe('expires_at');
    expect((await admin('POST', '', { name: 'x', metadata: { ai_models_include: 'a,(b' } })).body.error.param).toBe(
      'metadata.ai_models_include',
    );
    const { body } = await admin('POST', '', { name: 'patch-me', metadata: { team: 'search' } });
    const patched = await admin('PATCH', `/${body.id}`, { name: 'patched' });
    expect(patched.body).toMatchObject({ name: 'patched', enabled: true, metadata: { team: 'search' } });
    expect((await admin('GET', '/key_nope')).status).toBe(404);
    expect((await admin('DELETE', `/${body.id}`)).body).toEqual({ deleted: true, id: body.id });
    expect((await admin('GET', `/${body.id}`)).status).toBe(404);
  });

  describe('constraints: entity and key together', () => {
    beforeAll(async () => {
      await call('POST', `${gateway.url}/v1/embedding-models`, {
        token: gateway.adminToken,
        body: {
          id: 'constrained',
          provider: 'local',
          config: { options: { model: 'hash-16-v1' } },
          models: { include: ['hash-(16|32|64)-v1'], exclude: ['hash-64-v1'] },
        },
      });
    });
    const withKey = async (metadata: Record<string, string>) =>
      (await admin('POST', '', { name: 'constrained-key', metadata })).body.secret as string;

    it.each([
      ['neither level constrains (entity local)', {}, 'local/hash-128-v1', 200],
      ['entity allows, key unconstrained', {}, 'constrained/hash-32-v1', 200],
      ['entity include refuses', {}, 'constrained/hash-128-v1', 403],
      ['entity exclude refuses', {}, 'constrained/hash-64-v1', 403],
      ['key include allows', { ai_models_include: 'hash-16-v1' }, 'constrained', 200],
      ['key include refuses', { ai_models_include: 'hash-16-v1' }, 'constrained/hash-32-v1', 403],
      ['key exclude refuses', { ai_models_exclude: 'hash-3.-v1' }, 'constrained/hash-32-v1', 403],
      ['both allow', { ai_models_include: 'hash-.*', ai_models_exclude: 'hash-64-v1' }, 'constrained/hash-32-v1', 200],
      ['key refuses where the entity allows', { ai_models_exclude: 'hash-16-v1' }, 'constrained', 403],
      ['model absent everywhere', { ai_models_include: '.*' }, 'hash-999-v9', 404],
    ])('%s', async (_name, metadata, model, status) => {
      const response = await embed(await withKey(metadata), model);
      expect(response.status).toBe(status);
      if (status === 403) expect(response.body.error.code).toBe('model_not_allowed');
      if (status === 404) expect(response.body.error.code).toBe('model_not_found');
    });

    it('hides from /v1/models what the key may not use', async () => {
      const secret = await withKey({ ai_models_exclude: 'hash-16-v1' });
      const listed = await call('GET', `${gateway.url}/v1/models`, { token: secret });
      const ids = listed.body.data.map((m: { id: string }) => m.id);
      expect(ids).toContain('local/hash-384-v1');
      expect(ids).not.toContain('constrained/hash-16-v1');
    });
  });
});
