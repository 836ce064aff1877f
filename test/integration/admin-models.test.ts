/** The embedding-model admin API over HTTP against the built gateway. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';
import { call, embeddingsCall } from '../helpers/http.js';

let gateway: InjectedGateway;
const models = (path = '') => `${gateway.url}/v1/embedding-models${path}`;
const admin = (method: string, path = '', body?: unknown, headers?: Record<string, string>) =>
  call(method, models(path), { token: gateway.adminToken, body, headers });

beforeAll(async () => {
  gateway = await injectGateway();
});
afterAll(async () => {
  await gateway.close();
});

const openaiSmall = {
  id: 'openai-small',
  name: 'OpenAI small',
  description: 'text-embedding-3-small, pinned',
  provider: 'openai',
  config: {
    connection: { base_url: 'https://api.openai.com/v1', token: 'sk-proj-abcdefghijklmnop3f9a', timeout: 180000 },
    options: { model: 'text-embedding-3-small' },
  },
  models: { include: ['text-embedding-3-.*'], exclude: ['.*ada.*'] },
  enabled: true,
  dimensions: 1536,
  metadata: {},
  tags: ['prod'],
};

describe('CRUD round trip', () => {
  it('creates, reads, lists, replaces, patches and deletes', async () => {
    const created = await admin('POST', '', openaiSmall);
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/v1/embedding-models/openai-small');
    expect(created.headers.etag).toBe('"v1"');
    expect(created.body).toMatchObject({ id: 'openai-small', provider: 'openai', enabled: true, dimensions: 1536 });
    // The list price filled in from the built-in table.
    expect(created.body.pricing).toEqual({ input_per_million_tokens: 0.02, currency: 'USD' });
    expect(created.body.created_at).toEqual(created.body.updated_at);

    const read = await admin('GET', '/openai-small');
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const list = await admin('GET', '?provider=openai');
    expect(list.body.map((e: { id: string }) => e.id)).toEqual(['openai-small']);
    expect(list.headers['x-total-count']).toBe('1');
    expect((await admin('GET', '?tag=prod')).body).toHaveLength(1);
    expect((await admin('GET', '?enabled=false')).body).toHaveLength(0);
    expect((await admin('GET', '?limit=1&offset=0')).body).toHaveLength(1);
    expect((await admin('GET', '?page=2&pageSize=1')).body).toHaveLength(1);
    expect((await admin('GET', '?limit=0')).status).toBe(400);

    const replaced = await admin('PUT', '/openai-small', { ...read.body, description: 'replaced' });
    expect(replaced.status).toBe(200);
    expect(replaced.body.description).toBe('replaced');
    expect(replaced.headers.etag).toBe('"v2"');

    const patched = await admin('PATCH', '/openai-small', { enabled: false, dimensions: 512, tags: null });
    expect(patched.body).toMatchObject({ enabled: false, dimensions: 512, tags: [], description: 'replaced' });

    const deleted = await admin('DELETE', '/openai-small');
    expect(deleted.body).toEqual({ deleted: true, id: 'openai-small' });
    expect((await admin('GET', '/openai-small')).status).toBe(404);
    expect((await admin('DELETE', '/openai-small')).status).toBe(404);
  });

  it('generates an id from the name when none is given', async () => {
    const created = await admin('POST', '', {
      name: 'Small Local',
      provider: 'local',
      config: { options: { model: 'hash-64-v1' } },
      dimensions: 64,
    });
    expect(created.status).toBe(201);
    expect(created.body.id).toBe('small-local');
    await admin('DELETE', '/small-local');
  });
});

describe('validation: 400 naming the field, nothing stored', () => {
  it.each([
    ['unknown provider', { ...openaiSmall, provider: 'openia' }, 'provider'],
    [
      'malformed URL',
      { ...openaiSmall, config: { ...openaiSmall.config, connection: { base_url: 'api.openai.com' } } },
      'config.connection.base_url',
    ],
    [
      'non-http URL',
      { ...openaiSmall, config: { ...openaiSmall.config, connection: { base_url: 'ftp://x.example' } } },
      'config.connection.base_url',
    ],
    [
      'regex that does not compile',
      { ...openaiSmall, models: { include: ['text-(embedding'], exclude: [] } },
      'models.include[0]',
    ],
    [
      'non-positive timeout',
      { ...openaiSmall, config: { ...openaiSmall.config, connection: { timeout: 0 } } },
      'config.connection.timeout',
    ],
    [
      'negative price',
      { ...openaiSmall, pricing: { input_per_million_tokens: -1 } },
      'pricing.input_per_million_tokens',
    ],
    ['id with a slash', { ...openaiSmall, id: 'a/b' }, 'id'],
    ['unknown field', { ...openaiSmall, dimension: 3 }, 'dimension'],
    ['enabled as a string', { ...openaiSmall, enabled: 'yes' }, 'enabled'],
    ['zero dimensions', { ...openaiSmall, dimensions: 0 }, 'dimensions'],
    ...['evil.example/x?', 'acme.openai.azure.com', 'a b', '-acme', 'x'.repeat(64)].map(
      (name) =>
        [
          `Azure resource_name '${name.slice(0, 20)}' (not one host label)`,
          { ...openaiSmall, provider: 'azure-openai', config: { connection: { resource_name: name, api_key: 'k' } } },
          'config.connection.resource_name',
        ] as const,
    ),
    ['cache with an unknown scope', { ...openaiSmall, cache: { scope: 'tenant' } }, 'cache.scope'],
    ['cache with a zero ttl', { ...openaiSmall, cache: { ttl_s: 0 } }, 'cache.ttl_s'],
  ])('%s', async (_name, body, field) => {
    const response = await admin('POST', '', body);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param: field, code: 'invalid_entity' });
    expect(response.body.error.message).toContain(`'${field}'`);
    expect((await admin('GET', `/${(body as { id: string }).id}`)).status).toBe(404);
  });

  it('refuses a duplicate id', async () => {
    expect((await admin('POST', '', { ...openaiSmall, id: 'dup' })).status).toBe(201);
    const again = await admin('POST', '', { ...openaiSmall, id: 'dup', name: 'other' });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ param: 'id', code: 'duplicate_id' });
    expect((await admin('GET', '/dup')).body.name).toBe('OpenAI small');
  });

  it('refuses an invalid update and keeps the stored entity whole', async () => {
    await admin('POST', '', { ...openaiSmall, id: 'keep' });
    const bad = await admin('PATCH', '/keep', { config: { connection: { timeout: -5 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('config.connection.timeout');
    const after = await admin('GET', '/keep');
    expect(after.body.config.connection.timeout).toBe(180000);
    expect(after.headers.etag).toBe('"v1"');
    expect((await admin('PUT', '/keep', { ...openaiSmall, id: 'other-id' })).body.error.code).toBe('id_mismatch');
  });
});

describe('ETag and If-Match', () => {
  it('refuses a stale write with 412 and accepts a fresh one', async () => {
    await admin('POST', '', { ...openaiSmall, id: 'etag' });
    const first = await admin('GET', '/etag');
    const ok = await admin('PATCH', '/etag', { description: 'operator A' }, { 'if-match': String(first.headers.etag) });
    expect(ok.status).toBe(200);
    const stale = await admin(
      'PATCH',
      '/etag',
      { description: 'operator B' },
      { 'if-match': String(first.headers.etag) },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('etag_mismatch');
    expect((await admin('DELETE', '/etag', undefined, { 'if-match': String(first.headers.etag) })).status).toBe(412);
    expect((await admin('GET', '/etag')).body.description).toBe('operator A');
    expect((await admin('DELETE', '/etag', undefined, { 'if-match': String(ok.headers.etag) })).status).toBe(200);
  });
});

describe('secrets are redacted on every read', () => {
  it('on create, get, list and after an update that sent the redacted form back', async () => {
    const secret = openaiSmall.config.connection.token;
    const created = await admin('POST', '', {
      ...openaiSmall,
      id: 'secret',
      config: {
        ...openaiSmall.config,
        connection: {
          ...openaiSmall.config.connection,
          headers: { 'x-api-key': 'hdr-secret-123456789', 'x-trace': 'visible' },
          public_headers: ['x-trace'],
        },
      },
    });
    const reads = [
      created.body,
      (await admin('GET', '/secret')).body,
      (await admin('GET', '')).body.find((e: { id: string }) => e.id === 'secret'),
    ];
    for (const read of reads) {
      expect(JSON.stringify(read)).not.toContain(secret);
      expect(JSON.stringify(read)).not.toContain('hdr-secret-123456789');
      expect(read.config.connection.token).toBe('sk-…3f9a');
      expect(read.config.connection.headers['x-trace']).toBe('visible');
    }
    // Writing back what was read keeps the real token (the redacted form is not stored over it).
    const updated = await admin('PUT', '/secret', { ...reads[1], description: 'edited' });
    expect(updated.body.config.connection.token).toBe('sk-…3f9a');
    const rotated = await admin('PATCH', '/secret', {
      config: { connection: { token: 'sk-new-token-0000000000ffff' } },
    });
    expect(rotated.body.config.connection.token).toBe('sk-…ffff');
  });

  it('stores ${env:NAME} references verbatim and shows them as written', async () => {
    const created = await admin('POST', '', {
      ...openaiSmall,
      id: 'env-ref',
      config: { ...openaiSmall.config, connection: { token: '${env:OPENAI_API_KEY}' } },
    });
    expect(created.body.config.connection.token).toBe('${env:OPENAI_API_KEY}');
  });
});

describe('admin authentication', () => {
  it('needs the admin token; an API key or nothing is refused', async () => {
    expect((await call('GET', models())).status).toBe(401);
    const withKey = await call('GET', models(), { token: gateway.apiKey });
    expect(withKey.status).toBe(403);
    expect(withKey.body.error.code).toBe('admin_token_required');
    expect((await call('GET', models(), { token: 'embadm_wrong' })).status).toBe(401);
  });
});

describe('routing and constraints through /v1/embeddings', () => {
  it('routes each form to the right entity and refuses what is not allowed', async () => {
    await admin('POST', '', {
      id: 'tiny',
      name: 'Tiny Hash',
      provider: 'local',
      config: { options: { model: 'hash-8-v1' } },
      dimensions: 8,
      models: { include: ['hash-(8|16)-v1'], exclude: ['hash-16-v1'] },
    });
    const embed = (model: string) => embeddingsCall(gateway.url, gateway.apiKey, { model, input: 'route me' });
    for (const model of ['tiny', 'Tiny Hash', 'tiny-hash', 'tiny-hash/hash-8-v1', 'tiny###hash-8-v1', 'hash-8-v1']) {
      const response = await embed(model);
      expect(response.status, model).toBe(200);
      expect(response.body.data[0].embedding).toHaveLength(8);
    }
    expect((await embed('tiny/hash-16-v1')).body.error).toMatchObject({ code: 'model_not_allowed' });
    expect((await embed('tiny/hash-32-v1')).body.error.message).toContain(
      "none of the include patterns 'hash-(8|16)-v1'",
    );
    expect((await embed('tiny/hash-16-v1')).body.error.message).toContain("exclude pattern 'hash-16-v1'");

    await admin('PATCH', '/tiny', { enabled: false });
    const disabled = await embed('tiny');
    expect(disabled.status).toBe(403);
    expect(disabled.body.error).toMatchObject({ code: 'model_disabled' });
    expect(disabled.body.error.message).toContain('disabled');
    const listed = await call('GET', `${gateway.url}/v1/models`, { token: gateway.apiKey });
    expect(listed.body.data.map((m: { id: string }) => m.id)).not.toContain('tiny-hash/hash-8-v1');
    await admin('DELETE', '/tiny');
    expect((await embed('tiny')).status).toBe(404);
  });
});

describe("the reference gateway's admin API, as its clients use it", () => {
  const referenceEntity = {
    _loc: { tenant: 'default', teams: ['default'] },
    kind: 'ai-gateway.extensions.cloud-apim.com/EmbeddingModel',
    id: 'ref-openai',
    name: 'Ref OpenAI',
    description: '',
    provider: 'openai',
    config: {
      connection: { base_url: 'https://api.openai.com/v1', token: 'sk-ref-0123456789abcdef', timeout: 30000 },
      options: { model: 'text-embedding-3-small' },
    },
    models: { include: [], exclude: [] },
    metadata: {},
    tags: [],
  };

  it('returns _loc and kind as written', async () => {
    expect((await admin('POST', '', referenceEntity)).status).toBe(201);
    const read = await admin('GET', '/ref-openai');
    expect(read.body).toMatchObject({ _loc: referenceEntity._loc, kind: referenceEntity.kind });
  });

  it('GET _template answers a fresh entity to fill in: openai and ollama as the reference, local by default', async () => {
    const openai = await admin('GET', '/_template?kind=openai');
    expect(openai.status).toBe(200);
    expect(openai.body).toMatchObject({
      provider: 'openai',
      config: { connection: { base_url: 'https://api.openai.com/v1' }, options: { model: 'text-embedding-3-small' } },
    });
    expect(openai.body.id).toMatch(/^embedding-model_[0-9a-f-]{36}$/);
    expect((await admin('GET', '/_template?kind=ollama')).body.config.options.model).toBe('snowflake-arctic-embed:22m');
    expect((await admin('GET', '/_template')).body.provider).toBe('local');
    expect((await admin('GET', '/_template?kind=bedrock')).body.config.connection).toMatchObject({
      region: 'us-east-1',
    });
    // A template is valid as it stands once its placeholders are filled.
    const local = (await admin('GET', '/_template')).body;
    expect((await admin('POST', '', local)).status).toBe(201);
  });

  it('PATCH takes JSON Patch operations (application/json-patch+json), all or nothing', async () => {
    const patched = await admin(
      'PATCH',
      '/ref-openai',
      [
        { op: 'replace', path: '/config/options/model', value: 'text-embedding-3-large' },
        { op: 'add', path: '/tags/-', value: 'patched' },
      ],
      { 'content-type': 'application/json-patch+json' },
    );
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({ config: { options: { model: 'text-embedding-3-large' } }, tags: ['patched'] });
    // The stored token is kept (the patch was applied to the redacted read).
    expect(patched.body.config.connection.token).toBe('sk-…cdef');

    const failed = await admin('PATCH', '/ref-openai', [
      { op: 'replace', path: '/description', value: 'changed' },
      { op: 'test', path: '/enabled', value: false },
    ]);
    expect(failed.status).toBe(400);
    expect(failed.body.error.code).toBe('invalid_patch');
    expect(failed.body.error.message).toContain('operation 1 (test /enabled)');
    expect((await admin('GET', '/ref-openai')).body.description).toBe('');

    const removed = await admin('PATCH', '/ref-openai', [{ op: 'remove', path: '/config/connection/nope' }]);
    expect(removed.status).toBe(400);
    expect(removed.body.error.message).toContain('operation 0 (remove /config/connection/nope)');
    expect(JSON.stringify(removed.body)).not.toContain('sk-ref');
  });

  it('authenticates Otoroshi-Client-Id / Otoroshi-Client-Secret, refuses a wrong secret', async () => {
    const ok = await call('GET', models('/ref-openai'), {
      headers: { 'otoroshi-client-id': 'admin', 'otoroshi-client-secret': gateway.adminToken },
    });
    expect(ok.status).toBe(200);
    const wrong = await call('GET', models('/ref-openai'), {
      headers: { 'otoroshi-client-id': 'admin', 'otoroshi-client-secret': 'embadm_wrong' },
    });
    expect(wrong.status).toBe(401);
  });

  it('a write that sends a client secret to another token endpoint must restate it', async () => {
    const entra = {
      id: 'entra-move',
      provider: 'azure-openai',
      config: {
        connection: {
          resource_name: 'acme',
          tenant_id: 'contoso.onmicrosoft.com',
          client_id: 'c1',
          client_secret: 'entra-client-secret-0123',
        },
      },
    };
    expect((await admin('POST', '', entra)).status).toBe(201);
    const read = (await admin('GET', '/entra-move')).body;
    expect(JSON.stringify(read)).not.toContain('entra-client-secret');
    const moved = await admin('PATCH', '/entra-move', {
      config: { connection: { authority_host: 'https://evil.test' } },
    });
    expect(moved.status).toBe(400);
    expect(moved.body.error).toMatchObject({
      code: 'credential_destination_changed',
      param: 'config.connection.client_secret',
    });
  });

  it('names what a cloud provider needs, and refuses the reference-only in-process model with what to use', async () => {
    const bedrock = await admin('POST', '', { id: 'b1', provider: 'bedrock' });
    expect(bedrock.status).toBe(400);
    expect(bedrock.body.error.param).toBe('config.connection.region');
    const vertex = await admin('POST', '', { id: 'v1', provider: 'vertex-ai' });
    expect(vertex.body.error.param).toBe('config.connection.project_id');
    const minilm = await admin('POST', '', { id: 'm1', provider: 'all-minilm-l6-v2', config: {} });
    expect(minilm.status).toBe(400);
    expect(minilm.body.error.message).toMatch(/in-process ONNX model.*provider 'local'/);
    const region = await admin('POST', '', {
      id: 'b2',
      provider: 'bedrock',
      config: { connection: { region: 'evil.test/x' } },
    });
    expect(region.body.error.param).toBe('config.connection.region');
  });
});
