import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  countTextTokens,
  countTextTokensSliced,
  encodeText,
  MAX_PIECE,
  spansOf,
  timeSlicer,
} from '../../src/core/tokenizer.js';

// The library counted whole, as the reference the bounded counter must agree with on real text.
const whole = createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/cl100k_base') as {
  countTokens(t: string, o?: object): number;
  encode(t: string, o?: object): number[];
};
const asText = { disallowedSpecial: new Set<string>() };

const prose = [
  'The quick brown fox jumps over the lazy dog. '.repeat(200),
  "Rotating keys: create the new key, deploy it, then revoke the old one — don't skip the last step!\n\n".repeat(60),
  'def f(x):\n    return x  *  2   # comment\n\t\tindent  \r\n'.repeat(150),
  'Ünïcödé café naïve 東京 テスト 😀 emoji   spaced\u00a0nbsp '.repeat(120),
  '   leading spaces and trailing   ',
  '12345678901234567890 3.14159 1e-9 0x1F',
];

describe('bounded cl100k counting', () => {
  it.each(prose.map((text, i) => [i, text]))('agrees exactly with the whole-text count on prose #%d', (_i, text) => {
    expect(countTextTokens(text as string)).toBe(whole.countTokens(text as string, asText));
    expect(encodeText(text as string)).toEqual(whole.encode(text as string, asText));
  });

  it('treats special-token text as text instead of throwing', () => {
    expect(countTextTokens('a <|endoftext|> b')).toBe(whole.countTokens('a <|endoftext|> b', asText));
  });

  it('cuts runs with no break into pieces of at most MAX_PIECE characters, never inside a surrogate pair', () => {
    const spans = [...spansOf(`${'x'.repeat(1000)} tail${'😀'.repeat(100)}`)];
    expect(spans.join('')).toBe(`${'x'.repeat(1000)} tail${'😀'.repeat(100)}`);
    for (const span of spans) {
      expect(span.length).toBeLessThanOrEqual(2048);
      expect(/^[\udc00-\udfff]/.test(span)).toBe(false);
    }
    // What reaches the BPE as one pre-token is never longer than MAX_PIECE.
    expect(spans.every((span) => span.split(' ').every((piece) => piece.length <= MAX_PIECE))).toBe(true);
  });

  it('counts a 1 MB word, a 1 MB run of spaces and 200 k CJK characters (each was minutes of BPE when whole)', () => {
    for (const text of [
      'x'.repeat(1_000_000),
      `${' '.repeat(1_000_000)}a`,
      '漢'.repeat(200_000),
      '!'.repeat(500_000),
    ]) {
      const count = countTextTokens(text);
      expect(count).toBeGreaterThan(text.length / 64);
      expect(count).toBeLessThanOrEqual(text.length * 3);
    }
  });

  it('stops counting once past the limit asked for', () => {
    const count = countTextTokens('word '.repeat(100_000), 8192);
    expect(count).toBeGreaterThan(8192);
    expect(count).toBeLessThan(8192 + 2048);
  });

  it('the sliced form gives the same count and lets timers run while it counts', async () => {
    const text = 'lorem ipsum dolor sit amet '.repeat(40_000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const count = await countTextTokensSliced(text, Number.POSITIVE_INFINITY, timeSlicer(1));
    clearInterval(timer);
    expect(count).toBe(countTextTokens(text));
    expect(ticks).toBeGreaterThan(0);
  });
});
