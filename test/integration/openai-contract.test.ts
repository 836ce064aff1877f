/**
 * Contract: the official `openai` SDK as a real client against the built gateway. The SDK asks for
 * base64 by default and decodes it; a gateway that answered floats would hand it vectors a quarter
 * of their length, so every vector is compared bit for bit with the float answer.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGateway, type SpawnedGateway } from '../helpers/gateway.js';

let gateway: SpawnedGateway;
let client: OpenAI;
const MODEL = 'local/hash-384-v1';

beforeAll(async () => {
  gateway = await spawnGateway();
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.apiKey, maxRetries: 0 });
});
afterAll(async () => {
  expect(await gateway.stop()).toBe(0);
});

const texts = Array.from({ length: 100 }, (_, i) => `document number ${i} about topic ${i % 7}`);

async function floats(input: string | string[], dimensions?: number): Promise<number[][]> {
  const response = await client.embeddings.create({
    model: MODEL,
    input,
    encoding_format: 'float',
    ...(dimensions ? { dimensions } : {}),
  });
  return response.data.map((d) => d.embedding);
}

describe('openai SDK contract', () => {
  it('embeds a single string with the OpenAI response shape', async () => {
    const response = await client.embeddings.create({ model: MODEL, input: 'hello world', encoding_format: 'float' });
    expect(response.object).toBe('list');
    expect(response.model).toBe('hash-384-v1');
    expect(response.data).toHaveLength(1);
    expect(response.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(response.data[0]!.embedding).toHaveLength(384);
    expect(response.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });

  it('embeds a batch of 100 in input order', async () => {
    const response = await client.embeddings.create({ model: MODEL, input: texts, encoding_format: 'float' });
    expect(response.data.map((d) => d.index)).toEqual(texts.map((_, i) => i));
    expect(response.data.every((d) => d.embedding.length === 384)).toBe(true);
    // Order is right, not just the indexes: each vector equals the one embedded alone.
    expect(response.data[42]!.embedding).toEqual((await floats(texts[42]!))[0]);
  });

  it("decodes the SDK's default (base64) to the float answer, bit for bit", async () => {
    const viaDefault = await client.embeddings.create({ model: MODEL, input: texts });
    const expected = await floats(texts);
    expect(viaDefault.data).toHaveLength(100);
    viaDefault.data.forEach((d, i) => {
      expect(d.embedding).toHaveLength(384);
      expect(d.embedding).toEqual(expected[i]);
    });
  });

  it('returns base64 strings when asked explicitly, decoding to the same vectors', async () => {
    const response = await client.embeddings.create({
      model: MODEL,
      input: texts.slice(0, 3),
      encoding_format: 'base64',
    });
    const expected = await floats(texts.slice(0, 3));
    response.data.forEach((d, i) => {
      expect(typeof d.embedding).toBe('string');
      const bytes = Buffer.from(d.embedding as unknown as string, 'base64');
      expect(bytes.byteLength).toBe(384 * 4);
      expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 384))).toEqual(expected[i]);
    });
  });

  it('honours dimensions, in both encodings', async () => {
    const viaDefault = await client.embeddings.create({ model: MODEL, input: ['alpha', 'beta'], dimensions: 64 });
    const expected = await floats(['alpha', 'beta'], 64);
    expect(viaDefault.data.map((d) => d.embedding)).toEqual(expected);
    expect(expected.every((v) => v.length === 64)).toBe(true);
  });

  it('accepts token arrays, embedded as their decoded text', async () => {
    const [fromText] = await floats('hello world');
    const response = await client.embeddings.create({ model: MODEL, input: [[15339, 1917]], encoding_format: 'float' });
    expect(response.data[0]!.embedding).toEqual(fromText);
  });

  it('lists models with their dimensions', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain(MODEL);
    expect(models.data.find((m) => m.id === MODEL)).toMatchObject({
      object: 'model',
      owned_by: 'local',
      dimensions: 384,
    });
  });

  it('surfaces errors as the SDK error classes', async () => {
    await expect(client.embeddings.create({ model: MODEL, input: '' })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.embeddings.create({ model: 'no-such-model', input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    const stranger = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'emb_wrong', maxRetries: 0 });
    await expect(stranger.embeddings.create({ model: MODEL, input: 'x' })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    const error = await client.embeddings.create({ model: 'no-such-model', input: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    expect((error as InstanceType<typeof OpenAI.APIError>).requestID).toMatch(/^req_/);
  });
});
