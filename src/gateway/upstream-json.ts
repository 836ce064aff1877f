/**
 * Upstream bodies read without turning their vectors into strings. A 16 × 1536 base64 response is
 * ~130 kB, all but ~1 kB of it vectors: decoding it to a string and JSON.parse-ing it puts that on
 * the V8 heap twice, and under load those strings outlive the request's awaits and get promoted
 * (measured on the 16 × 1536 base64 load at 32 connections: peak RSS 267 → 180 MB and 1.6 times
 * the throughput once they were gone).
 *
 * Here every long string literal that is base64 of whole float32 values, and every long flat array
 * of plain numbers, stays a slice of the response's bytes (an `Embedding` that can be copied into
 * the caller's response as is), and only the small rest is parsed as JSON. The result is what
 * JSON.parse would give, with those values already read as vectors; anything else in the body,
 * valid or not, meets JSON.parse exactly as before.
 */
import { randomBytes } from 'node:crypto';
import { Embedding } from '../core/vectors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const PAD = 0x3d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;

/** Shorter literals cost less to parse than to check and slice. */
const LIFT_MIN_CHARS = 256;

/** Stands for a lifted literal in the text given to JSON.parse; the random part keeps an upstream from forging one. */
const MARK = `\u0000embctl-vector-${randomBytes(8).toString('hex')}-`;

/** 1 for each pair of bytes (as a 16-bit value) that are both base64 characters, padding aside. */
const PAIRS = new Uint8Array(65536);
{
  const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c) => c.charCodeAt(0));
  for (const low of alphabet) for (const high of alphabet) PAIRS[low | (high << 8)] = 1;
}
const isBase64Char = (byte: number) => PAIRS[byte | (0x41 << 8)]!; // paired with 'A'

/**
 * Every byte in [start, end) is a base64 character. This check is the gateway's main per-byte cost
 * on the SDK-default traffic, so it reads 32-bit words and looks both halves up in a pair table:
 * two lookups per four bytes (about 0.45 ns a byte against 1.2 for a byte loop).
 */
function allBase64(bytes: Buffer, start: number, end: number): boolean {
  let ok = 1;
  let at = start;
  for (; at < end && (bytes.byteOffset + at) % 4 !== 0; at++) ok &= isBase64Char(bytes[at]!);
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset + at, (end - at) >>> 2);
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    ok &= PAIRS[word & 0xffff]! & PAIRS[word >>> 16]!;
  }
  for (at += words.length * 4; at < end; at++) ok &= isBase64Char(bytes[at]!);
  return ok === 1;
}

const SIXBITS = new Int16Array(256).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries())
  SIXBITS[c.charCodeAt(0)] = i;
const SLASH = 0x2f;
const LOWER_F = 0x66;
const DIGIT_8 = 0x38;
const DIGIT_9 = 0x39;

/**
 * Whether the float32 values in valid base64 text at [start, end) are all finite (no NaN or ±Inf:
 * exponent bits all ones). Every 16 characters carry 3 whole values; each value's top exponent
 * bits sit in one known character ('f' or '/', one of '89+/', or '/'), so most blocks are cleared
 * by three byte compares and only the rare candidate is decoded.
 */
function base64AllFinite(bytes: Buffer, start: number, end: number): boolean {
  const b = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const decodeFrom = (from: number): boolean => {
    let pending = 0;
    let bits = 0;
    let byteIndex = 0;
    let third = 0;
    for (let at = from; at < end && b[at] !== PAD; at++) {
      pending = (pending << 6) | SIXBITS[b[at]!]!;
      bits += 6;
      if (bits < 8) continue;
      bits -= 8;
      const byte = (pending >> bits) & 0xff;
      if (byteIndex % 4 === 2) third = byte;
      else if (byteIndex % 4 === 3 && (byte & 0x7f) === 0x7f && (third & 0x80) !== 0) return false;
      byteIndex++;
    }
    return true;
  };
  let at = start;
  for (; at + 16 <= end; at += 16) {
    const c4 = b[at + 4];
    const c10 = b[at + 10];
    const candidate =
      c4 === LOWER_F ||
      c4 === SLASH ||
      c10 === DIGIT_8 ||
      c10 === DIGIT_9 ||
      c10 === PLUS ||
      c10 === SLASH ||
      b[at + 15] === SLASH;
    if (candidate && !decodeFrom(at)) return false;
  }
  return decodeFrom(at);
}

/** float32 values in the base64 text at [start, end), or 0 when it is not base64 of a whole number of them. */
function base64Floats(bytes: Buffer, start: number, end: number): number {
  // Padding: at most two '=' closing a whole 4-character group; the alphabet checked before has none.
  let pad = 0;
  while (pad < 2 && end - pad > start && bytes[end - 1 - pad] === PAD) pad++;
  const chars = end - start - pad;
  if ((pad > 0 && (end - start) % 4 !== 0) || chars % 4 === 1 || !allBase64(bytes, start, start + chars)) return 0;
  const decoded = Math.floor((chars * 3) / 4);
  return decoded % 4 === 0 ? decoded / 4 : 0;
}

/** Base64 vector text that passes: whole float32 values, every one finite. */
function finiteBase64Floats(bytes: Buffer, start: number, end: number): number {
  const floats = base64Floats(bytes, start, end);
  return floats > 0 && base64AllFinite(bytes, start, end) ? floats : 0;
}

const DIGIT = new Uint8Array(256);
for (let c = ZERO; c <= ZERO + 9; c++) DIGIT[c] = 1;
const isSpace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * How many numbers the bytes hold when they are exactly a flat JSON array of numbers, else 0.
 * Printed floats are a float caller's whole response: checking their syntax (4x faster than
 * JSON.parse, which converts every decimal) is all the gateway does to them. A number too large for
 * float32 (one that may reach 10^38, or with a 3-digit exponent) is not taken, so it meets the
 * usual checks, which refuse it.
 */
function jsonNumbers(bytes: Buffer): number {
  // A plain Uint8Array view: indexing a Buffer (a subclass) is several times slower in this loop.
  const b = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const last = b.length - 1;
  if (b[0] !== OPEN_BRACKET || b[last] !== CLOSE_BRACKET) return 0;
  let at = 1;
  let count = 0;
  for (;;) {
    while (isSpace(b[at])) at++;
    if (b[at] === MINUS) at++;
    const integerStart = at;
    if (b[at] === ZERO) at++;
    else if (DIGIT[b[at]!]) while (DIGIT[b[at]!]) at++;
    else return 0;
    const integerDigits = at - integerStart;
    if (integerDigits > 38) return 0;
    if (b[at] === DOT) {
      if (!DIGIT[b[++at]!]) return 0;
      while (DIGIT[b[at]!]) at++;
    }
    if (b[at] === 0x65 || b[at] === 0x45) {
      at++;
      const negative = b[at] === MINUS;
      if (b[at] === PLUS || b[at] === MINUS) at++;
      const exponentStart = at;
      let exponent = 0;
      while (DIGIT[b[at]!]) exponent = exponent * 10 + b[at++]! - ZERO;
      if (at === exponentStart || at - exponentStart > 2) return 0;
      // Below 10^38 is finite in float32 (its largest is 3.4e38); anything that may be larger is left to the full
      // check.
      if (!negative && integerDigits + exponent > 38) return 0;
    }
    count++;
    while (isSpace(b[at])) at++;
    if (b[at] === COMMA) {
      at++;
      continue;
    }
    return at === last ? count : 0;
  }
}

/**
 * The usual shape of a printed vector, with no spaces and finite in float32 by construction (at
 * most 29 integer digits, a positive exponent of one digit: below 10^38), which the regular
 * expression engine checks about 1.5 times faster than the byte loop above. Linear: every
 * repetition starts at a comma. Anything else, or a literal too long to be one vector, goes to
 * the loop.
 */
const PRINTED_NUMBER = '-?(?:0|[1-9]\\d{0,28})(?:\\.\\d+)?(?:[eE](?:-\\d{1,2}|\\+?\\d))?';
const PLAIN_VECTOR = new RegExp(`^\\[${PRINTED_NUMBER}(?:,${PRINTED_NUMBER})*\\]$`);
/**
 * The same, of exactly `values` numbers: matching it proves the count too, which saves counting the
 * commas (a third of the check of a 1536-float vector). Built per call: V8 keeps compiled regular
 * expressions by source, so the same length reuses the same machine code.
 */
const plainVectorOf = (values: number) => new RegExp(`^\\[${PRINTED_NUMBER}(?:,${PRINTED_NUMBER}){${values - 1}}\\]$`);
const PLAIN_VECTOR_MAX_BYTES = 2 * 1024 * 1024;
/**
 * `expected`: the length the vector should have, when known (a hint: any other length is still
 * counted). The expression reads a string, a copy of the literal on the V8 heap; for big answers too
 * (8 MB of them per 256 × 1536 answer): each is dead as soon as checked, so the young generation's
 * collection takes them cheaply, and the scanner would read the bytes 2-3 times slower (bench:stages,
 * 256 × 1536 float: 19.4 ms per answer in the scanner, 6.4 in the expression).
 */
function plainVectorValues(bytes: Buffer, expected: number | undefined): number {
  if (bytes.length > PLAIN_VECTOR_MAX_BYTES) return 0;
  const text = bytes.toString('latin1');
  if (expected !== undefined && expected > 0 && plainVectorOf(expected).test(text)) return expected;
  if (!PLAIN_VECTOR.test(text)) return 0;
  let count = 1;
  for (let at = text.indexOf(','); at !== -1; at = text.indexOf(',', at + 1)) count++;
  return count;
}

/**
 * The body as the socket delivered it, in chunks (~64 kB each), read as one sequence without being
 * concatenated: joining them would be one more body-sized copy per response. Only a piece that
 * straddles two chunks is copied.
 */
class Chunks {
  private readonly starts: number[] = [];
  readonly length: number;

  /** `allocate`: the memory for the copy of a piece that straddles chunks. */
  constructor(
    private readonly chunks: Buffer[],
    private readonly allocate: (size: number) => Buffer,
  ) {
    let length = 0;
    for (const chunk of chunks) {
      this.starts.push(length);
      length += chunk.length;
    }
    this.length = length;
  }

  /** The index of the chunk holding `position` (binary search: a large body has a hundred chunks). */
  private chunkAt(position: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.starts[mid]! <= position) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  byteAt(position: number): number | undefined {
    const i = this.chunkAt(position);
    return this.chunks[i]?.[position - this.starts[i]!];
  }

  indexOf(byte: number, from: number): number {
    for (let i = this.chunkAt(from); i < this.chunks.length; i++) {
      const found = this.chunks[i]!.indexOf(byte, Math.max(0, from - this.starts[i]!));
      if (found !== -1) return this.starts[i]! + found;
    }
    return -1;
  }

  /** The bytes in [start, end): a view into one chunk, or a copy when they straddle chunks. */
  slice(start: number, end: number): Buffer {
    if (end <= start) return Buffer.alloc(0);
    const first = this.chunkAt(start);
    const last = this.chunkAt(Math.max(start, end - 1));
    if (first === last) return this.chunks[first]!.subarray(start - this.starts[first]!, end - this.starts[first]!);
    const copy = this.allocate(end - start);
    let at = 0;
    for (let i = first; i <= last; i++)
      at += this.chunks[i]!.copy(
        copy,
        at,
        Math.max(0, start - this.starts[i]!),
        Math.min(this.chunks[i]!.length, end - this.starts[i]!),
      );
    return copy;
  }
}

/**
 * Finds the next `byte` at or after a position, remembering the last answer: the stretches between
 * string literals come in order, and each one searching past its end anew was quadratic in the
 * number of strings (16 base64 vectors: a third of the parse, scanning the whole rest of the body
 * for a '[' that is not there).
 */
function nextByteIn(body: Chunks, byte: number): (from: number) => number {
  let searchedFrom = Number.POSITIVE_INFINITY;
  let found = -1;
  return (from) => {
    if (searchedFrom > from || (found !== -1 && found < from)) {
      searchedFrom = from;
      found = body.indexOf(byte, from);
    }
    return found;
  };
}

/** The quote that closes a string literal whose content starts at `from`: the next one not escaped. */
function closingQuote(body: Chunks, from: number): number {
  for (let at = body.indexOf(QUOTE, from); at !== -1; at = body.indexOf(QUOTE, at + 1)) {
    let backslashes = 0;
    while (body.byteAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

/**
 * The JSON in `chunks` (a body as read), vector literals read as `Embedding`s; undefined when empty or not JSON.
 * `vectorLength`: how many values a vector should have, when the caller knows (it only makes the check faster).
 * `allocate`: the memory for a vector that straddles two chunks (copied, so it is one Buffer).
 */
export function parseUpstreamJson(
  chunks: Buffer[],
  vectorLength?: number,
  allocate: (size: number) => Buffer = Buffer.allocUnsafe,
): unknown {
  const body = new Chunks(chunks, allocate);
  const lifted: Embedding[] = [];
  let text = '';
  let copied = 0;
  /** Puts a placeholder in the text for the bytes at [start, end), read as `vector`. */
  const lift = (start: number, end: number, vector: Embedding) => {
    text += `${body.slice(copied, start).toString('utf8')}${JSON.stringify(MARK + lifted.length)}`;
    lifted.push(vector);
    copied = end;
  };
  const nextOpen = nextByteIn(body, OPEN_BRACKET);
  const nextClose = nextByteIn(body, CLOSE_BRACKET);
  /** Flat arrays of numbers in [from, to), a stretch outside any string literal. */
  const liftArrays = (from: number, to: number) => {
    for (let open = nextOpen(from); open !== -1 && open < to; open = nextOpen(open + 1)) {
      const close = nextClose(open + 1);
      if (close === -1 || close >= to) return;
      if (close - open - 1 < LIFT_MIN_CHARS) continue;
      const literal = body.slice(open, close + 1);
      const count = plainVectorValues(literal, vectorLength) || jsonNumbers(literal);
      if (count === 0) continue;
      lift(open, close + 1, Embedding.ofWireText('float', literal, count));
      open = close;
    }
  };
  // Outside a string literal JSON has no quotes, so each quote found from here opens one.
  for (let outside = 0; ; ) {
    const open = body.indexOf(QUOTE, outside);
    liftArrays(outside, open === -1 ? body.length : open);
    if (open === -1) break;
    const close = closingQuote(body, open + 1);
    if (close === -1) break;
    if (close - open - 1 >= LIFT_MIN_CHARS) {
      const literal = body.slice(open + 1, close);
      const floats = finiteBase64Floats(literal, 0, literal.length);
      if (floats > 0) lift(open, close + 1, Embedding.ofWireText('base64', literal, floats));
    }
    outside = close + 1;
  }
  text += body.slice(copied, body.length).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return lifted.length === 0 ? parsed : restoreLifted(parsed, lifted);
}

/**
 * Puts each lifted vector where its placeholder stands. A walk after the parse, not a reviver: V8
 * parses ~10× slower with one (bench:stages, 1 input float: the reviver was most of the parse's
 * time). Iterative, so an upstream's deep nesting cannot exhaust the stack.
 */
function restoreLifted(parsed: unknown, lifted: Embedding[]): unknown {
  const lift = (value: unknown): unknown =>
    typeof value === 'string' && value.startsWith(MARK) ? lifted[Number(value.slice(MARK.length))] : value;
  const containers: object[] = [];
  const visit = (value: unknown) => {
    if (typeof value === 'object' && value !== null) containers.push(value);
  };
  const root = lift(parsed);
  visit(root);
  for (let container = containers.pop(); container !== undefined; container = containers.pop()) {
    const record = container as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const value = record[key];
      const vector = lift(value);
      if (vector !== value) record[key] = vector;
      else visit(value);
    }
  }
  return root;
}
