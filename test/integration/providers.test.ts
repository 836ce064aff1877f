/**
 * Every provider adapter through the same cases, each against a fake upstream that speaks that
 * provider's real wire format: what the fake received (URL, auth, body) and what the caller got
 * (order, encoding, usage, errors).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/core/tokenizer.js';
import { AWS_KEYS, ENTRA, startTokenEndpoint, type TokenEndpoint } from '../fakes/cloud-auth.js';
import { cloudFormats, FORMATS, TOKEN, type FormatName } from '../fakes/formats.js';
import { fakeVector, startFake, type FakeUpstream, type WireFormat } from '../fakes/upstream.js';
import { injectGateway, type InjectedGateway } from '../helpers/inject.js';
import { call, embeddingsCall } from '../helpers/http.js';

interface ProviderCase {
  id: string;
  provider: string;
  format: FormatName | keyof ReturnType<typeof cloudFormats>;
  connection: (url: string) => Record<string, unknown>;
  model: string;
  /** Inputs per upstream call the adapter must respect. */
  limit: number;
  /** Where the fake must see `dimensions`, or undefined when the gateway must refuse it. */
  dimensions: ((body: any) => unknown) | undefined;
  /** The model the upstream reports back. */
  resolved: string;
  usage: 'reported' | 'estimated';
  authHeader: [string, string] | undefined;
  /** Authenticates with a minted token: a 401 is retried once with a fresh one. */
  mints?: boolean;
}

let tokens: TokenEndpoint;
const CLOUD = cloudFormats(() => tokens);
const formatOf = (name: ProviderCase['format']): WireFormat =>
  name in CLOUD ? CLOUD[name as keyof typeof CLOUD] : FORMATS[name as FormatName];

const CASES: ProviderCase[] = [
  {
    id: 'p-openai',
    provider: 'openai',
    format: 'openai',
    connection: (u) => ({ base_url: `${u}/v1`, token: TOKEN }),
    model: 'text-embedding-3-small',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'text-embedding-3-small',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-azure-legacy',
    provider: 'azure-openai',
    format: 'azure-legacy',
    connection: (u) => ({ base_url: u, api_key: TOKEN, deployment_id: 'emb-deploy', api_version: '2024-02-01' }),
    model: 'text-embedding-3-small',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'deployment-model',
    usage: 'reported',
    authHeader: ['api-key', TOKEN],
  },
  {
    id: 'p-azure-v1',
    provider: 'azure-openai',
    format: 'azure-v1',
    connection: (u) => ({ base_url: u, token: TOKEN }),
    model: 'emb-deploy',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'emb-deploy',
    usage: 'reported',
    authHeader: ['api-key', TOKEN],
  },
  {
    id: 'p-compatible',
    provider: 'openai-compatible',
    format: 'openai-compatible',
    connection: (u) => ({ base_url: `${u}/v1`, token: TOKEN, headers: { 'x-tenant': 'acme' } }),
    model: 'bge-small',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'bge-small-q8',
    usage: 'reported',
    authHeader: ['x-tenant', 'acme'],
  },
  {
    id: 'p-mistral',
    provider: 'mistral',
    format: 'mistral',
    connection: (u) => ({ base_url: `${u}/v1`, token: TOKEN }),
    model: 'codestral-embed',
    limit: 512,
    dimensions: (b) => b.output_dimension,
    resolved: 'codestral-embed',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-voyage',
    provider: 'voyage',
    format: 'voyage',
    connection: (u) => ({ base_url: `${u}/v1`, token: TOKEN }),
    model: 'voyage-3.5',
    limit: 1000,
    dimensions: (b) => b.output_dimension,
    resolved: 'voyage-3.5',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-jina',
    provider: 'jina',
    format: 'jina',
    connection: (u) => ({ base_url: `${u}/v1`, token: TOKEN }),
    model: 'jina-embeddings-v3',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'jina-embeddings-v3',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-cohere',
    provider: 'cohere',
    format: 'cohere',
    connection: (u) => ({ base_url: u, token: TOKEN }),
    model: 'embed-v4.0',
    limit: 96,
    dimensions: (b) => b.output_dimension,
    resolved: 'embed-v4.0',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-gemini',
    provider: 'gemini',
    format: 'gemini-openai',
    connection: (u) => ({ base_url: `${u}/v1beta/openai`, token: TOKEN }),
    model: 'gemini-embedding-001',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'gemini-embedding-001',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-x-ai',
    provider: 'x-ai',
    format: 'x-ai',
    connection: (u) => ({ base_domain: u, token: TOKEN }),
    model: 'v1',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'v1',
    usage: 'reported',
    authHeader: ['authorization', `Bearer ${TOKEN}`],
  },
  {
    id: 'p-bedrock-titan',
    provider: 'bedrock',
    format: 'bedrock-titan',
    connection: (u) => ({
      base_url: u,
      region: 'us-east-1',
      aws_access_key_id: AWS_KEYS.accessKeyId,
      aws_secret_access_key: AWS_KEYS.secretAccessKey,
    }),
    model: 'amazon.titan-embed-text-v2:0',
    limit: 1,
    dimensions: (b) => b.dimensions,
    resolved: 'amazon.titan-embed-text-v2:0',
    usage: 'reported',
    authHeader: undefined,
  },
  {
    id: 'p-bedrock-cohere',
    provider: 'bedrock',
    format: 'bedrock-cohere',
    connection: (u) => ({
      base_url: u,
      region: 'us-east-1',
      aws_access_key_id: AWS_KEYS.accessKeyId,
      aws_secret_access_key: AWS_KEYS.secretAccessKey,
    }),
    model: 'cohere.embed-v4:0',
    limit: 96,
    dimensions: (b) => b.output_dimension,
    resolved: 'cohere.embed-v4:0',
    usage: 'reported',
    authHeader: undefined,
  },
  {
    id: 'p-vertex',
    provider: 'vertex-ai',
    format: 'vertex',
    connection: (u) => ({
      base_url: u,
      project_id: 'proj-1',
      location: 'us-central1',
      service_account: tokens.serviceAccountKey,
    }),
    model: 'text-embedding-005',
    limit: 250,
    dimensions: (b) => b.parameters.outputDimensionality,
    resolved: 'text-embedding-005',
    usage: 'reported',
    authHeader: undefined,
    mints: true,
  },
  {
    id: 'p-azure-entra',
    provider: 'azure-openai',
    format: 'azure-entra',
    connection: (u) => ({
      base_url: u,
      tenant_id: ENTRA.tenant,
      client_id: ENTRA.clientId,
      client_secret: ENTRA.clientSecret,
      authority_host: tokens.url,
    }),
    model: 'emb-deploy',
    limit: 2048,
    dimensions: (b) => b.dimensions,
    resolved: 'emb-deploy',
    usage: 'reported',
    authHeader: undefined,
    mints: true,
  },
  {
    id: 'p-gemini-native',
    provider: 'gemini-native',
    format: 'gemini',
    connection: (u) => ({ base_url: `${u}/v1beta`, token: TOKEN }),
    model: 'gemini-embedding-001',
    limit: 100,
    dimensions: (b) => b.requests[0].outputDimensionality,
    resolved: 'gemini-embedding-001',
    usage: 'estimated',
    authHeader: ['x-goog-api-key', TOKEN],
  },
  {
    id: 'p-ollama',
    provider: 'ollama',
    format: 'ollama',
    connection: (u) => ({ base_url: u }),
    model: 'nomic-embed-text',
    limit: 512,
    dimensions: (b) => b.dimensions,
    resolved: 'nomic-embed-text:latest',
    usage: 'reported',
    authHeader: undefined,
  },
  {
    id: 'p-tei',
    provider: 'huggingface-tei',
    format: 'huggingface-tei',
    connection: (u) => ({ base_url: u }),
    model: 'bge-base',
    limit: 32,
    dimensions: undefined,
    resolved: 'bge-base',
    usage: 'reported',
    authHeader: undefined,
  },
];

let gateway: InjectedGateway;
let listening: Promise<string> | undefined;
/** The SDK needs a real socket: the same in-process gateway, listening on loopback once asked. */
const socketUrl = () => (listening ??= gateway.listen());
const fakes = new Map<string, FakeUpstream>();
const words = (texts: string[]) => texts.reduce((n, t) => n + t.split(/\s+/).filter(Boolean).length, 0);

beforeAll(async () => {
  tokens = await startTokenEndpoint();
  gateway = await injectGateway();
  for (const c of CASES) {
    const fake = await startFake(formatOf(c.format));
    fakes.set(c.id, fake);
    const created = await call('POST', `${gateway.url}/v1/embedding-models`, {
      token: gateway.adminToken,
      body: {
        id: c.id,
        provider: c.provider,
        config: { connection: { ...c.connection(fake.url), timeout: 10_000 }, options: { model: c.model } },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([...fakes.values()].map((f) => f.close()));
  await tokens.close();
});

describe.each(CASES)('$provider ($id)', (c) => {
  const fake = () => fakes.get(c.id)!;
  const embed = (body: Record<string, unknown>) =>
    embeddingsCall(gateway.url, gateway.apiKey, { model: c.id, ...body });

  it('translates one input both ways', async () => {
    fake().requests.length = 0;
    const response = await embed({ input: 'hello upstream world', encoding_format: 'float' });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.data[0].embedding).toEqual(fakeVector('hello upstream world'));
    expect(response.body.model).toBe(c.resolved);
    expect(response.body.usage.prompt_tokens).toBe(
      c.usage === 'reported' ? 3 : countTextTokens('hello upstream world'),
    );
    const [received] = fake().requests;
    expect(received!.body).toBeDefined();
    if (c.authHeader) expect(received!.headers[c.authHeader[0]]).toBe(c.authHeader[1]);
    expect(JSON.stringify(received!.body)).toContain('hello upstream world');
  });

  it('splits a batch over the provider limit, keeps order and sums usage', async () => {
    fake().requests.length = 0;
    const count = Math.min(2048, c.limit < 2048 ? c.limit * 2 + 1 : 50);
    const texts = Array.from({ length: count }, (_, i) => `item ${i} of the batch`);
    const response = await embed({ input: texts, encoding_format: 'float' });
    expect(response.status, JSON.stringify(response.body).slice(0, 300)).toBe(200);
    expect(fake().requests).toHaveLength(Math.ceil(count / c.limit));
    expect(response.body.data.map((d: { index: number }) => d.index)).toEqual(texts.map((_, i) => i));
    expect(response.body.data.map((d: { embedding: number[] }) => d.embedding)).toEqual(
      texts.map((t) => fakeVector(t)),
    );
    expect(response.body.usage.prompt_tokens).toBe(
      c.usage === 'reported' ? words(texts) : texts.reduce((n, t) => n + countTextTokens(t), 0),
    );
  });

  it("returns correct vectors to the openai SDK's default base64 request", async () => {
    const client = new OpenAI({ baseURL: `${await socketUrl()}/v1`, apiKey: gateway.apiKey, maxRetries: 0 });
    const response = await client.embeddings.create({ model: c.id, input: ['alpha beta', 'gamma'] });
    expect(response.data.map((d) => d.embedding)).toEqual([fakeVector('alpha beta'), fakeVector('gamma')]);
  });

  it(
    c.dimensions ? "forwards 'dimensions' under the provider's own name" : "refuses 'dimensions' with a clear 400",
    async () => {
      fake().requests.length = 0;
      if (c.dimensions) fake().script({ vectorLength: 4 });
      const response = await embed({ input: 'short vectors', dimensions: 4, encoding_format: 'float' });
      if (c.dimensions) {
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        expect(c.dimensions(fake().requests[0]!.body)).toBe(4);
        expect(response.body.data[0].embedding).toHaveLength(4);
      } else {
        expect(fake().requests).toHaveLength(0);
        expect(response.status).toBe(400);
        expect(response.body.error).toMatchObject({ param: 'dimensions', code: 'unsupported_model' });
      }
    },
  );

  it('retries a 503 and a 429 from the upstream, then answers', async () => {
    fake().requests.length = 0;
    fake().script(
      { status: 503, body: formatOf(c.format).error(503, 'overloaded').body },
      { status: 429, body: formatOf(c.format).error(429, 'slow down').body, headers: { 'retry-after-ms': '10' } },
    );
    const response = await embed({ input: 'after retries', encoding_format: 'float' });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body.data[0].embedding).toEqual(fakeVector('after retries'));
    expect(fake().requests).toHaveLength(3);
  });

  it("passes the upstream's 400 message through as a 400", async () => {
    fake().script({ status: 400, body: formatOf(c.format).error(400, 'the input was unacceptable').body });
    const response = await embed({ input: 'x' });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('upstream_invalid_request');
    expect(response.body.error.message).toContain('the input was unacceptable');
  });

  it('maps an upstream auth failure to 502 upstream_auth_failed, leaking no secret', async () => {
    const refused = { status: 401, body: formatOf(c.format).error(401, `bad key ${TOKEN}`).body };
    // A minted token is minted once more and tried again before the refusal stands.
    fake().script(refused, ...(c.mints ? [refused] : []));
    const response = await embed({ input: 'x' });
    expect(response.status).toBe(502);
    expect(response.body.error.code).toBe('upstream_auth_failed');
    expect(JSON.stringify(response.body)).not.toContain(TOKEN);
  });
});

describe('provider-specific translation', () => {
  it('cohere sends input_type (default search_document, or from options) and embedding_types', async () => {
    const fake = fakes.get('p-cohere')!;
    fake.requests.length = 0;
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-cohere', input: 'doc' });
    expect(fake.requests[0]!.body).toMatchObject({
      model: 'embed-v4.0',
      texts: ['doc'],
      input_type: 'search_document',
      embedding_types: ['float'],
    });
    await call('PATCH', `${gateway.url}/v1/embedding-models/p-cohere`, {
      token: gateway.adminToken,
      body: { config: { options: { input_type: 'search_query', truncate: 'END' } } },
    });
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-cohere', input: 'query' });
    expect(fake.requests[1]!.body).toMatchObject({ input_type: 'search_query', truncate: 'END' });
  });

  it('gemini-native puts options such as taskType into each request', async () => {
    const fake = fakes.get('p-gemini-native')!;
    await call('PATCH', `${gateway.url}/v1/embedding-models/p-gemini-native`, {
      token: gateway.adminToken,
      body: { config: { options: { taskType: 'RETRIEVAL_DOCUMENT' } } },
    });
    fake.requests.length = 0;
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-gemini-native', input: ['a', 'b'] });
    expect(fake.requests[0]!.url).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(fake.requests[0]!.body.requests).toEqual([
      { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] }, taskType: 'RETRIEVAL_DOCUMENT' },
      { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] }, taskType: 'RETRIEVAL_DOCUMENT' },
    ]);
  });

  it("azure legacy omits model from the body; openai is asked for the caller's encoding", async () => {
    const azure = fakes.get('p-azure-legacy')!;
    azure.requests.length = 0;
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-azure-legacy', input: 'x' });
    expect(azure.requests[0]!.body).not.toHaveProperty('model');
    const openai = fakes.get('p-openai')!;
    openai.requests.length = 0;
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-openai', input: 'x', encoding_format: 'float' });
    expect(openai.requests[0]!.body).toMatchObject({ model: 'text-embedding-3-small', encoding_format: 'float' });
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-openai', input: 'x' });
    // OpenAI's default when the caller names none
    expect(openai.requests[1]!.body).toMatchObject({ encoding_format: 'float' });
    await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-openai', input: 'x', encoding_format: 'base64' });
    expect(openai.requests[2]!.body).toMatchObject({ encoding_format: 'base64' });
  });

  it('refuses token-id inputs for providers with another tokenizer, accepts them for openai', async () => {
    const refused = await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-cohere', input: [[1, 2, 3]] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('token_input_unsupported');
    const openai = fakes.get('p-openai')!;
    openai.requests.length = 0;
    expect((await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-openai', input: [[1, 2, 3]] })).status).toBe(
      200,
    );
    expect(openai.requests[0]!.body.input).toEqual([[1, 2, 3]]);
  });

  it('rotates comma-separated tokens round-robin per entity', async () => {
    const fake = fakes.get('p-ollama')!;
    await call('PATCH', `${gateway.url}/v1/embedding-models/p-ollama`, {
      token: gateway.adminToken,
      body: { config: { connection: { token: 'tok-a, tok-b,tok-c' } } },
    });
    fake.requests.length = 0;
    for (let i = 0; i < 4; i++)
      await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-ollama', input: `r${i}` });
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer tok-a',
      'Bearer tok-b',
      'Bearer tok-c',
      'Bearer tok-a',
    ]);
  });

  it('resolves ${env:NAME} only at call time and says which variable is missing', async () => {
    await call('PATCH', `${gateway.url}/v1/embedding-models/p-ollama`, {
      token: gateway.adminToken,
      body: { config: { connection: { token: '${env:TEST_UNSET_API_KEY}' } } },
    });
    const response = await embeddingsCall(gateway.url, gateway.apiKey, { model: 'p-ollama', input: 'x' });
    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({ code: 'provider_misconfigured' });
    expect(response.body.error.message).toContain('TEST_UNSET_API_KEY');
  });
});
