import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { serializeEmbeddings } from '../../src/gateway/serialize.js';
import { base64ToFloat32, Embedding, float32ToBase64 } from '../../src/core/vectors.js';

const vector = (seed: number, dims: number) => Float32Array.from({ length: dims }, (_, i) => Math.sin(seed * 31 + i));
const text = async (body: Buffer | Readable) =>
  (Buffer.isBuffer(body) ? body : Buffer.concat(await Readable.from(body).toArray())).toString('utf8');

/** The same vectors in each form the gateway carries: floats, base64 text, and the upstream's own bytes. */
function forms(count: number, dims: number): Embedding[][] {
  const floats = Array.from({ length: count }, (_, i) => vector(i, dims));
  return [
    floats.map((v) => Embedding.ofFloats(v)),
    floats.map((v) => Embedding.ofBase64(float32ToBase64(v))),
    floats.map((v) => Embedding.ofWireText('base64', Buffer.from(float32ToBase64(v)), dims)),
    floats.map((v) => Embedding.ofWireText('float', Buffer.from(JSON.stringify(Array.from(v))), dims)),
  ];
}

describe('serializeEmbeddings', () => {
  // 4 × 64: built whole; 256 × 1536: over 1 MB in either encoding, streamed in chunks.
  for (const [count, dims] of [
    [4, 64],
    [256, 1536],
  ] as const) {
    it(`writes the same OpenAI body from every form, ${count} × ${dims}`, async () => {
      const floats = Array.from({ length: count }, (_, i) => Array.from(vector(i, dims)));
      for (const encoding of ['float', 'base64'] as const) {
        for (const vectors of forms(count, dims)) {
          const body = JSON.parse(await text(serializeEmbeddings(vectors, encoding, 'm-ü', 7)));
          expect(body).toMatchObject({ object: 'list', model: 'm-ü', usage: { prompt_tokens: 7, total_tokens: 7 } });
          expect(body.data.map((d: { index: number }) => d.index)).toEqual(floats.map((_, i) => i));
          const decoded = body.data.map((d: { embedding: number[] | string }) =>
            typeof d.embedding === 'string' ? Array.from(base64ToFloat32(d.embedding)) : d.embedding,
          );
          expect(decoded).toEqual(floats);
        }
      }
    });
  }
});
