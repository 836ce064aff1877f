import { describe, expect, it } from 'vitest';
import { hasNestedQuantifier } from '../../src/core/patterns.js';

describe('hasNestedQuantifier', () => {
  it.each(['(a+)+', '(.*-)*', '(?:a|b+){2,}', '((ab)*c)+', '(x+y)*z'])('refuses %s', (pattern) => {
    expect(hasNestedQuantifier(pattern)).toBe(true);
  });

  it.each([
    'text-embedding-3-.*',
    '.*ada.*',
    '(small|large)',
    '(ab)+',
    'a+b*',
    '[(+*)]+',
    '\\(a+\\)+',
    'hash-[0-9]+-v1',
    '(a?)',
  ])('accepts %s', (pattern) => {
    expect(hasNestedQuantifier(pattern)).toBe(false);
  });
});
