/** Vector helpers shared by gateway and CLI. Vectors travel as Float32Array internally. */
import { endianness } from 'node:os';
import type { EncodingFormat } from './embeddings-request.js';

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
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`a base64 vector must decode to a multiple of 4 bytes, got ${bytes.byteLength}`);
  }
  return float32FromBytes(bytes);
}

/** Little-endian float32 bytes (a length multiple of 4) as floats, copied into an aligned buffer. */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  requireLittleEndian();
  // Copied: a Buffer from the pool, a driver or a socket may sit at an offset that is not a multiple of 4.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * A vector as a JSON array, each float32 printed as its exact double value (parsing gives back the
 * same bits). JSON.stringify prints numbers straight into its output; TypedArray#join makes a string
 * per element through V8's number-string cache, which on real (all-distinct) vectors is slower and
 * promotes every one of them to the old generation: measured, 45 full collections per 20 000
 * vectors of 1 536 against none.
 */
export function float32ToJson(vector: Float32Array): string {
  // JSON.stringify prints -0 as 0; the base64 form keeps the sign bit, and float and base64 answers
  // must agree bit for bit, so a vector holding -0 takes the (rare) slower path.
  if (!hasNegativeZero(vector)) return JSON.stringify(Array.from(vector));
  return `[${Array.from(vector, (x) => (Object.is(x, -0) ? '-0' : JSON.stringify(x))).join(',')}]`;
}

function hasNegativeZero(vector: Float32Array): boolean {
  for (let i = 0; i < vector.length; i++) if (vector[i] === 0 && Object.is(vector[i], -0)) return true;
  return false;
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

/** Characters of the padded base64 of `bytes` bytes. */
const base64Chars = (bytes: number) => 4 * Math.ceil(bytes / 3);

/** The text an upstream sent for one vector, as bytes: base64 (without its quotes) or a JSON array. */
interface WireText {
  encoding: EncodingFormat;
  bytes: Buffer;
}

/**
 * One embedding as the gateway carries it: floats, base64 text, or the very bytes an upstream sent
 * (its base64 or its JSON array). Kept in the form it arrived in and converted only if the caller
 * asked for the other: a vector then passes from an upstream to a caller asking the same encoding
 * without being decoded, printed or even turned into a string.
 */
export class Embedding {
  private constructor(
    private floats: Float32Array | undefined,
    private base64: string | undefined,
    private readonly wire: WireText | undefined,
    readonly length: number,
  ) {}

  static ofFloats(vector: Float32Array): Embedding {
    return new Embedding(vector, undefined, undefined, vector.length);
  }

  /** Throws a RangeError when the text is not base64 of whole float32 values. */
  static ofBase64(text: string): Embedding {
    const bytes = Buffer.byteLength(text, 'base64');
    if (bytes === 0 || bytes % 4 !== 0 || !BASE64.test(text))
      throw new RangeError('not base64 of whole float32 values');
    return new Embedding(undefined, text, undefined, bytes / 4);
  }

  /** `bytes` already checked to be `length` values in `encoding` (see `gateway/upstream-json.ts`). */
  static ofWireText(encoding: EncodingFormat, bytes: Buffer, length: number): Embedding {
    return new Embedding(undefined, undefined, { encoding, bytes }, length);
  }

  toFloat32(): Float32Array {
    if (this.floats) return this.floats;
    this.floats =
      this.wire?.encoding === 'float'
        ? Float32Array.from(JSON.parse(this.wire.bytes.toString('latin1')) as number[])
        : base64ToFloat32(this.toBase64());
    return this.floats;
  }

  toBase64(): string {
    return (this.base64 ??=
      this.wire?.encoding === 'base64' ? this.wire.bytes.toString('latin1') : float32ToBase64(this.toFloat32()));
  }

  /** The upstream's own bytes for this vector in `encoding`, when it sent that encoding. */
  wireText(encoding: EncodingFormat): Buffer | undefined {
    return this.wire?.encoding === encoding ? this.wire.bytes : undefined;
  }

  /** Bytes `writeBase64` will write. */
  get base64Length(): number {
    return this.wireText('base64')?.length ?? this.base64?.length ?? base64Chars(this.length * 4);
  }

  /** Writes the base64 text into `target` at `offset`; returns the offset after it. */
  writeBase64(target: Buffer, offset: number): number {
    const wire = this.wireText('base64');
    if (wire) return offset + wire.copy(target, offset);
    return offset + target.write(this.toBase64(), offset, 'latin1');
  }
}
