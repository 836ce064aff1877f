/** The cache's identity rules: what changes a fingerprint, what keeps entries apart, and token shares. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportionTokens, cacheEntryKey, cacheFingerprint, parseCacheDirective } from '../../src/core/cache-key.js';
import type { EmbeddingModelEntity } from '../../src/core/entity.js';

const entity = (changes: Partial<EmbeddingModelEntity['config']> = {}): EmbeddingModelEntity =>
  ({
    id: 'e',
    name: 'e',
    provider: 'openai',
    config: {
      connection: { base_url: 'https://api.openai.com/v1', token: 'sk-one', timeout: 1000, ...changes.connection },
      options: { model: 'text-embedding-3-small', ...changes.options },
    },
  }) as EmbeddingModelEntity;

describe('cacheFingerprint', () => {
  const base = cacheFingerprint(entity(), 'text-embedding-3-small');

  it('changes with the upstream model, dimensions, options, base URL, provider and public headers', () => {
    const variants = [
      cacheFingerprint(entity(), 'text-embedding-3-large'),
      cacheFingerprint(entity(), 'text-embedding-3-small', 256),
      cacheFingerprint(entity({ options: { input_type: 'query' } } as never), 'text-embedding-3-small'),
      cacheFingerprint(
        entity({ connection: { base_url: 'https://other.example/v1' } } as never),
        'text-embedding-3-small',
      ),
      cacheFingerprint({ ...entity(), provider: 'openai-compatible' }, 'text-embedding-3-small'),
      cacheFingerprint(
        entity({ connection: { headers: { 'x-model-version': '2' }, public_headers: ['x-model-version'] } } as never),
        'text-embedding-3-small',
      ),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it('does not change with credentials, secret headers, key order, or the entity default model option', () => {
    expect(cacheFingerprint(entity({ connection: { token: 'sk-rotated' } } as never), 'text-embedding-3-small')).toBe(
      base,
    );
    expect(
      cacheFingerprint(
        entity({ connection: { headers: { 'x-api-key': 'secret' } } } as never),
        'text-embedding-3-small',
      ),
    ).toBe(base);
    const a = cacheFingerprint(entity({ options: { a: 1, b: { c: 2, d: 3 } } } as never), 'm');
    const b = cacheFingerprint(entity({ options: { b: { d: 3, c: 2 }, a: 1 } } as never), 'm');
    expect(a).toBe(b);
  });
});

describe('cacheEntryKey', () => {
  it('keeps entities, owners, texts and token arrays apart', () => {
    const keys = [
      cacheEntryKey('e', 'f', null, 'hello'),
      cacheEntryKey('e2', 'f', null, 'hello'),
      cacheEntryKey('e', 'f2', null, 'hello'),
      cacheEntryKey('e', 'f', 'key_a', 'hello'),
      cacheEntryKey('e', 'f', 'key_b', 'hello'),
      cacheEntryKey('e', 'f', null, 'hello '),
      cacheEntryKey('e', 'f', null, [15339]),
      cacheEntryKey('e', 'f', null, '15339'),
      // Length prefixes: moving a boundary between parts is another key.
      cacheEntryKey('ef', '', null, 'x'),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheEntryKey('e', 'f', null, 'hello')).toBe(cacheEntryKey('e', 'f', null, 'hello'));
  });
});

describe('apportionTokens', () => {
  it('splits in whole tokens that always sum to the total, in proportion to the weights', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.array(fc.nat(5000), { minLength: 1, maxLength: 64 }), (total, weights) => {
        const shares = apportionTokens(total, weights);
        expect(shares).toHaveLength(weights.length);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
        const sum = weights.reduce((a, b) => a + b, 0);
        shares.forEach((share, i) => {
          const exact = sum === 0 ? total / weights.length : (total * weights[i]!) / sum;
          expect(Math.abs(share - exact)).toBeLessThan(1);
        });
      }),
    );
    expect(apportionTokens(7, [3, 1, 3])).toEqual([3, 1, 3]);
    expect(apportionTokens(5, [5])).toEqual([5]);
  });
});

describe('parseCacheDirective', () => {
  it('takes skip and refresh in any case, nothing as use, and refuses the rest naming it', () => {
    expect(parseCacheDirective(undefined)).toBe('use');
    expect(parseCacheDirective(' Skip ')).toBe('skip');
    expect(parseCacheDirective('refresh')).toBe('refresh');
    expect(() => parseCacheDirective('no-store')).toThrow(/'no-store'.*'skip'.*'refresh'/);
  });
});
