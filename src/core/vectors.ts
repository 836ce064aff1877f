/** Vector helpers shared by gateway and CLI. Vectors travel as Float32Array internally. */
import { endianness } from 'node:os';

// The wire format is little-endian float32; Float32Array uses the host order, so we refuse to
// produce silently byte-swapped vectors on the (rare) big-endian host rather than corrupt them.
const HOST_IS_LE = endianness() === 'LE';

function requireLittleEndian(): void {
  if (!HOST_IS_LE) throw new Error('embctl needs a little-endian host to encode float32 vectors as base64');
}

/** Little-endian float32 bytes, base64: what OpenAI sends for `encoding_format: "base64"`. */
export function float32ToBase64(vector: Float32Array): string {
  requireLittleEndian();
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

export function base64ToFloat32(encoded: string): Float32Array {
  requireLittleEndian();
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`a base64 vector must decode to a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  // Copy into an aligned buffer: Buffer's pool offset is not guaranteed to be a multiple of 4.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function l2Normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  if (sum === 0) return vector;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! * scale;
  return vector;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} vs ${b.length}`);
  const denominator = norm(a) * norm(b);
  return denominator === 0 ? 0 : dot(a, b) / denominator;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * One embedding as the gateway carries it: floats, or the base64 an upstream sent. Kept in the
 * form it arrived in and converted only if the caller asked for the other: the SDKs' default
 * (base64) then passes through a base64 upstream without being decoded and encoded again.
 */
export class Embedding {
  private constructor(
    private floats: Float32Array | undefined,
    private base64: string | undefined,
    readonly length: number,
  ) {}

  static ofFloats(vector: Float32Array): Embedding {
    return new Embedding(vector, undefined, vector.length);
  }

  /** Throws a RangeError when the text is not base64 of whole float32 values. */
  static ofBase64(text: string): Embedding {
    const bytes = Buffer.byteLength(text, 'base64');
    if (bytes === 0 || bytes % 4 !== 0 || !BASE64.test(text)) throw new RangeError('not base64 of whole float32 values');
    return new Embedding(undefined, text, bytes / 4);
  }

  toFloat32(): Float32Array {
    return (this.floats ??= base64ToFloat32(this.base64!));
  }

  toBase64(): string {
    return (this.base64 ??= float32ToBase64(this.floats!));
  }
}
