import { describe, expect, it } from 'vitest';
import {
  base64ToFloat32,
  cosineSimilarity,
  float32ToBase64,
  float32ToJson,
  l2Normalize,
} from '../../src/core/vectors.js';

describe('vectors', () => {
  it('round-trips float32 through little-endian base64 bit for bit', () => {
    const vector = new Float32Array([0.1, -2.5, 3.4028234663852886e38, -0, 1e-45]);
    const decoded = base64ToFloat32(float32ToBase64(vector));
    expect(Buffer.from(decoded.buffer)).toEqual(Buffer.from(vector.buffer));
  });

  it('encodes in little-endian byte order, as OpenAI does', () => {
    // 1.0f is 0x3f800000: little-endian bytes 00 00 80 3f.
    expect(float32ToBase64(new Float32Array([1]))).toBe(Buffer.from([0, 0, 0x80, 0x3f]).toString('base64'));
  });

  it('rejects base64 that does not hold whole float32 values', () => {
    expect(() => base64ToFloat32(Buffer.from([1, 2, 3]).toString('base64'))).toThrow(/multiple of 4/);
  });

  it('encodes a view into a larger buffer without its neighbours', () => {
    const backing = new Float32Array([9, 1, 2, 9]);
    expect(Array.from(base64ToFloat32(float32ToBase64(backing.subarray(1, 3))))).toEqual([1, 2]);
  });

  it('computes cosine similarity and normalises', () => {
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([1, 1], [2, 2])).toBeCloseTo(1, 12);
    const v = l2Normalize(new Float32Array([3, 4]));
    expect(Array.from(v)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(() => cosineSimilarity([1], [1, 2])).toThrow(/differ in length/);
  });
});

describe('negative zero', () => {
  it('keeps its sign in the float form, as base64 does', () => {
    const vector = Float32Array.from([0.5, -0, 0, -1.25]);
    const floats = JSON.parse(float32ToJson(vector)) as number[];
    expect(Object.is(floats[1], -0)).toBe(true);
    expect(Object.is(floats[2], 0)).toBe(true);
    expect(Array.from(base64ToFloat32(float32ToBase64(Float32Array.from(floats))))).toEqual(Array.from(vector));
    expect(float32ToJson(Float32Array.from([1, 2]))).toBe('[1,2]');
  });
});
