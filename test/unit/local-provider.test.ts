import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SEED_ENTITY } from '../../src/gateway/bootstrap.js';
import { hashEmbed, localAdapter } from '../../src/gateway/providers/local.js';
import { cosineSimilarity, norm } from '../../src/core/vectors.js';
import { encodeText } from '../../src/core/tokenizer.js';

const digest = (v: Float32Array) =>
  createHash('sha256')
    .update(Buffer.from(v.buffer, v.byteOffset, v.byteLength))
    .digest('hex')
    .slice(0, 16);

describe('local provider (feature hashing)', () => {
  it('is deterministic: same text, same bits, pinned across releases and machines', () => {
    const a = hashEmbed('The quick brown fox jumps over the lazy dog.', 384);
    expect(digest(a)).toBe(digest(hashEmbed('The quick brown fox jumps over the lazy dog.', 384)));
    // A golden value: if this changes, hash-384-v1 changed and must become v2.
    expect(digest(a)).toBe('541de75605038690');
  });

  it('returns unit vectors of the asked length, even for text with no words', () => {
    for (const [text, dims] of [
      ['hello world', 384],
      ['!!!', 16],
      ['   ', 4096],
      ['日本語のテキスト', 64],
    ] as const) {
      const v = hashEmbed(text, dims);
      expect(v.length).toBe(dims);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
  });

  it('puts lexically similar texts closer than unrelated ones', () => {
    const query = hashEmbed('central bank interest rates', 384);
    const related = hashEmbed('The central bank kept its benchmark interest rate steady.', 384);
    const unrelated = hashEmbed('Knead the dough for ten minutes, then let it rise.', 384);
    expect(cosineSimilarity(query, related)).toBeGreaterThan(cosineSimilarity(query, unrelated) + 0.2);
    // Character trigrams make inflections close too.
    expect(cosineSimilarity(hashEmbed('running', 384), hashEmbed('runner', 384))).toBeGreaterThan(
      cosineSimilarity(hashEmbed('running', 384), hashEmbed('banana', 384)) + 0.2,
    );
  });

  it('embeds token-id inputs as their decoded cl100k text', () => {
    const call = { entity: SEED_ENTITY, model: 'hash-384-v1', tokenCount: 4, encoding: 'float' as const };
    const fromTokens = localAdapter.embed({ ...call, inputs: [encodeText('hello there world')] });
    const fromText = localAdapter.embed({ ...call, inputs: ['hello there world'] });
    expect(Array.from(fromTokens.vectors[0]!.toFloat32())).toEqual(Array.from(fromText.vectors[0]!.toFloat32()));
    expect(fromText.promptTokens).toBe(4);
  });

  it('honours the requested dimensions and refuses what it cannot serve', () => {
    const result = localAdapter.embed({
      entity: SEED_ENTITY,
      model: 'hash-384-v1',
      tokenCount: 1,
      inputs: ['hi'],
      dimensions: 32,
      encoding: 'float',
    });
    expect(result.vectors[0]!.length).toBe(32);
    expect(localAdapter.checkModel('hash-384-v1', 5000)).toMatch(/at most 4096/);
    expect(localAdapter.checkModel('text-embedding-3-small')).toMatch(/hash-<dimensions>-v1/);
    expect(localAdapter.checkModel('hash-1024-v1', 512)).toBeUndefined();
  });
});
