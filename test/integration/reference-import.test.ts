/**
 * Entities exported from the reference gateway (test/fixtures/reference, its exact JSON shape, the
 * upstream host pointed at a local fake) apply unchanged with `embctl models apply -f`, diff as
 * equal, route by the reference's slug, and reach the upstream at the path and with the headers
 * the reference would use.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeVector, startFake, type FakeUpstream, type Recorded, type WireFormat } from '../fakes/upstream.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';
import { embeddingsCall } from '../helpers/http.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/reference');
const JWT = JSON.parse(readFileSync(join(FIXTURES, 'azure-v1-default.json'), 'utf8')).config.connection.token;

/** Any path: answers in the shape its path implies (Cohere's /v2/embed, Ollama's /api/embed, else OpenAI's). */
const anyPath: WireFormat = {
  name: 'reference-any',
  maxBatch: 10_000,
  accept: () => undefined,
  texts: (body) => {
    const list = body.texts ?? body.input ?? body.inputs;
    return Array.isArray(list) ? list : [list];
  },
  overLimit: () => ({ status: 400, body: {} }),
  respond(vectors, req: Recorded) {
    if (req.url.endsWith('/v2/embed'))
      return {
        status: 200,
        body: { id: 'c', embeddings: { float: vectors }, meta: { billed_units: { input_tokens: 2 } } },
      };
    if (req.url.endsWith('/api/embed')) return { status: 200, body: { model: req.body.model, embeddings: vectors } };
    return {
      status: 200,
      body: {
        object: 'list',
        data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
        model: req.body.model ?? req.body.model_id ?? 'deployment',
        usage: { prompt_tokens: 2, total_tokens: 2 },
      },
    };
  },
  error: (status, message) => ({ status, body: { error: { message } } }),
};

/** What the reference sends for each file: [file, model to ask for, path, headers, body fields]. */
const EXPECTED: [string, string, string, Record<string, string>, Record<string, unknown>][] = [
  [
    'openai',
    'openai_prod/text-embedding-3-small',
    '/v1/embeddings',
    { authorization: 'Bearer sk-ref-openai-0123456789' },
    { model: 'text-embedding-3-small' },
  ],
  [
    'azure-v1-default',
    'embedding-model_azure_v1',
    '/openai/v1/embeddings',
    { authorization: `Bearer ${JWT}` },
    { model: 'emb-3-small' },
  ],
  [
    'azure-v1-explicit',
    'embedding-model_azure_v1x',
    '/openai/v1/embeddings',
    { 'api-key': 'az-ref-key-0123456789' },
    { model: 'emb-3-small' },
  ],
  [
    'azure-deployment',
    'azure_deployment',
    '/openai/deployments/emb-3-small/embeddings?api-version=2024-10-21',
    { 'api-key': 'az-ref-key-0123456789', authorization: `Bearer ${JWT}` },
    {},
  ],
  [
    'azure-ai-foundry',
    'embedding-model_foundry',
    '/models/embeddings',
    { authorization: 'Bearer foundry-ref-key-0123456789' },
    { model: 'embed-v-4-0' },
  ],
  [
    'scaleway',
    'my_scaleway/bge-multilingual-gemma2',
    '/v1/embeddings',
    { authorization: 'Bearer scw-ref-key-0123456789' },
    { model: 'bge-multilingual-gemma2' },
  ],
  [
    'cloud-temple',
    'cloud_temple',
    '/v1/embeddings',
    { authorization: 'Bearer ct-ref-key-0123456789' },
    { model: 'granite-embedding:278m' },
  ],
  [
    'deepseek',
    'embedding-model_deepseek',
    '/embeddings',
    { authorization: 'Bearer ds-ref-key-0123456789' },
    { model: 'deepseek-embed' },
  ],
  [
    'gemini',
    'google_gemini',
    '/v1beta/openai/embeddings',
    { authorization: 'Bearer gem-ref-key-0123456789' },
    { model: 'gemini-embedding-001' },
  ],
  [
    'huggingface',
    'hugging_face',
    '/v1/embeddings',
    { authorization: 'Bearer hf_ref_key_0123456789' },
    { model: 'BAAI/bge-small-en-v1.5' },
  ],
  ['x-ai', 'xai', '/v1/embeddings', { authorization: 'Bearer xai-ref-key-0123456789' }, { model: 'v1' }],
  ['ovh', 'ovh', '/v1/embeddings', { authorization: 'Bearer ovh-ref-key-0123456789' }, { model: 'bge-m3' }],
  [
    'mistral',
    'mistral',
    '/v1/embeddings',
    { authorization: 'Bearer mis-ref-key-0123456789' },
    { model: 'mistral-embed' },
  ],
  ['ollama', 'ollama', '/api/embed', { authorization: 'Bearer xxxxx' }, { model: 'snowflake-arctic-embed:22m' }],
  [
    'cohere',
    'cohere',
    '/v2/embed',
    { authorization: 'Bearer co-ref-key-0123456789' },
    { model: 'embed-v4.0', embedding_types: ['float'] },
  ],
  [
    'openai-compatible',
    'custom_compat',
    '/api/embeddings',
    { 'x-api-key': 'compat-ref-key-0123456789' },
    { inputs: ['reference import'], model: 'bge-small', truncate: true },
  ],
];

let gateway: SpawnedGateway;
let fake: FakeUpstream;
let dir: string;
const cli = (args: string[]) => runCli(args, { env: gateway.env });

beforeAll(async () => {
  fake = await startFake(anyPath);
  gateway = await spawnGateway();
  dir = tempDir('reference');
  for (const file of readdirSync(FIXTURES))
    writeFileSync(join(dir, file), readFileSync(join(FIXTURES, file), 'utf8').replaceAll('{{FAKE}}', fake.url));
});
afterAll(async () => {
  await gateway?.stop();
  await fake?.close();
});

describe('entities exported from the reference gateway', () => {
  it('apply unchanged, then diff reports nothing', async () => {
    const applied = await cli(['models', 'apply', '-f', dir]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain(`${EXPECTED.length} created`);
    const diff = await cli(['models', 'diff', '-f', dir]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  });

  it.each(EXPECTED)(
    '%s: routed by %s, calls %s with the headers the reference sends',
    async (_file, model, path, headers, body) => {
      fake.requests.length = 0;
      const response = await embeddingsCall(gateway.url, gateway.apiKey, {
        model,
        input: 'reference import',
        encoding_format: 'float',
      });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.body.data[0].embedding).toEqual(fakeVector('reference import'));
      const [received] = fake.requests;
      expect(received!.url).toBe(path);
      for (const [name, value] of Object.entries(headers)) expect(received!.headers[name], name).toBe(value);
      expect(received!.body).toMatchObject(body);
    },
  );

  it('no credential from the files appears in a read back', async () => {
    const listed = await cli(['models', 'list', '-o', 'json']);
    expect(listed.code).toBe(0);
    for (const secret of ['sk-ref-openai-0123456789', 'az-ref-key-0123456789', 'compat-ref-key-0123456789', JWT])
      expect(listed.stdout).not.toContain(secret);
  });
});
