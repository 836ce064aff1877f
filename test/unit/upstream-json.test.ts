import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUpstreamJson } from '../../src/gateway/upstream-json.js';
import { Embedding, float32ToBase64 } from '../../src/core/vectors.js';

const vector = (dims: number, seed = 1) => Float32Array.from({ length: dims }, (_, i) => Math.sin(i * seed + 1));
const b64 = (dims: number, seed = 1) => float32ToBase64(vector(dims, seed));

/** Replaces every Embedding in a parsed tree by the text it was read from: what plain JSON.parse gives. */
function asPlainJson(value: unknown): unknown {
  if (value instanceof Embedding) {
    const floats = value.wireText('float');
    return floats ? JSON.parse(floats.toString()) : value.toBase64();
  }
  if (Array.isArray(value)) return value.map(asPlainJson);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asPlainJson(v)]));
  return value;
}

/** The bytes as a socket could deliver them: cut into chunks at `cuts`, each at an odd offset of a larger buffer. */
function chunked(text: string, cuts: number[] = []): Buffer[] {
  const bytes = Buffer.from(text);
  const points = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
  return points
    .slice(1)
    .map((end, i) => Buffer.concat([Buffer.from('xyz'), bytes.subarray(points[i], end)]).subarray(3));
}
const parse = (text: string, cuts?: number[]) => parseUpstreamJson(chunked(text, cuts));

describe('parseUpstreamJson', () => {
  it('reads base64 vectors as Embeddings straight from the bytes, bit for bit', () => {
    const body = {
      object: 'list',
      data: [0, 1, 2].map((i) => ({ object: 'embedding', index: i, embedding: b64(384, i + 1) })),
      model: 'm',
      usage: { prompt_tokens: 3 },
    };
    const parsed = parse(JSON.stringify(body), [1000, 2049, 2050, 3333]) as {
      data: { embedding: unknown }[];
      model: string;
    };
    expect(parsed.model).toBe('m');
    for (const [i, item] of parsed.data.entries()) {
      expect(item.embedding).toBeInstanceOf(Embedding);
      const embedding = item.embedding as Embedding;
      expect(embedding.length).toBe(384);
      expect(Buffer.from(embedding.toFloat32().buffer)).toEqual(Buffer.from(vector(384, i + 1).buffer));
      expect(embedding.toBase64()).toBe(b64(384, i + 1));
    }
  });

  it('copies a vector that straddles chunks into the memory it is given, and only such a vector', () => {
    const floats = `[${Array.from(vector(300), String).join(',')}]`;
    const text = `{"data":[{"embedding":${floats}},{"embedding":${floats}}]}`;
    const second = text.lastIndexOf('[');
    const given: number[] = [];
    const parsed = parseUpstreamJson(chunked(text, [second + 50]), 300, (size) => {
      given.push(size);
      return Buffer.alloc(size);
    }) as { data: { embedding: Embedding }[] };
    expect(given).toEqual([floats.length]);
    for (const item of parsed.data) expect(item.embedding.wireText('float')!.toString()).toBe(floats);
  });

  it('gives what JSON.parse gives for any JSON, vectors aside', () => {
    const longBase64 = fc.integer({ min: 64, max: 300 }).map((dims) => b64(dims));
    const longFloats = fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()), {
      minLength: 40,
      maxLength: 300,
    });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        longBase64,
        longFloats,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string(), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }), (tree, pretty, cuts) => {
        const text = JSON.stringify(tree, null, pretty ? 2 : undefined);
        expect(asPlainJson(parse(text, cuts))).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves alone long strings that are not base64 of whole float32 values', () => {
    const cases = [
      `${'A'.repeat(300)}!`, // not the alphabet
      `${'AAAA'.repeat(100)}AAA=`, // 3 bytes short of a float
      'AA=A'.repeat(100), // padding in the middle
      `${'AAAA'.repeat(99)}A`, // a length no base64 has
      `${'x'.repeat(200)}\\"${'y'.repeat(200)}`, // an escaped quote inside
    ];
    for (const text of cases) {
      const json = `{"embedding":"${text}","after":"ok"}`;
      expect(parse(json, [json.length >> 1])).toEqual(JSON.parse(json));
    }
  });

  it('accepts unpadded base64, which some servers send', () => {
    const padded = b64(385); // 1540 bytes: one '=' of padding
    const parsed = parse(`{"embedding":"${padded.replace(/=+$/, '')}"}`) as { embedding: Embedding };
    expect(parsed.embedding.length).toBe(385);
    expect(Buffer.from(parsed.embedding.toFloat32().buffer)).toEqual(Buffer.from(vector(385).buffer));
  });

  it('leaves a string alone when any one character of it is outside the base64 alphabet, wherever it is', () => {
    const valid = b64(100, 7);
    const outside = [...' !#$%&()*,.:;<>?@[]^_`{|}~-=\'"éü埋\u0001'].map((c) => JSON.stringify(c).slice(1, -1));
    fc.assert(
      fc.property(fc.nat(valid.length - 3), fc.constantFrom(...outside), (at, bad) => {
        const json = `{"embedding":"${valid.slice(0, at)}${bad}${valid.slice(at + 1)}"}`;
        expect(parse(json)).toEqual(JSON.parse(json));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps track of string boundaries across escapes and multi-byte text', () => {
    const body = { note: 'quote " backslash \\ and \\" ünïcödé 埋め込み', embedding: b64(100), tail: '\\' };
    const text = JSON.stringify(body);
    // Cut inside the multi-byte characters and between a backslash and what it escapes.
    const parsed = parse(text, [
      Buffer.from(text).indexOf('ü') + 1,
      Buffer.from(text).indexOf('埋') + 2,
      Buffer.from(text).indexOf('\\\\') + 1,
    ]) as typeof body & { embedding: Embedding };
    expect(parsed.note).toBe(body.note);
    expect(parsed.tail).toBe('\\');
    expect(parsed.embedding).toBeInstanceOf(Embedding);
  });

  it('answers undefined for an empty body or one that is not JSON, even around vectors', () => {
    expect(parseUpstreamJson([])).toBeUndefined();
    expect(parse('')).toBeUndefined();
    expect(parse('<html>bad gateway</html>')).toBeUndefined();
    expect(parse(`{"data":["${b64(100)}"`, [200])).toBeUndefined();
    expect(parse(`{"data":"${b64(100)}`)).toBeUndefined();
  });

  it('puts every vector back where it stood, at any depth, under any key, without exhausting the stack', () => {
    const depth = 200_000;
    const deep = `${'['.repeat(depth)}"${b64(100)}"${']'.repeat(depth)}`;
    let inner = parse(deep);
    for (let i = 0; i < depth; i++) inner = (inner as unknown[])[0];
    expect(inner).toBeInstanceOf(Embedding);
    expect(parse(`"${b64(100)}"`)).toBeInstanceOf(Embedding);
    const parsed = parse(`{"__proto__":{"v":"${b64(100, 2)}"},"list":[1,"${b64(100, 3)}",{"x":null}]}`) as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(asPlainJson(parsed)).toEqual(
      JSON.parse(`{"__proto__":{"v":"${b64(100, 2)}"},"list":[1,"${b64(100, 3)}",{"x":null}]}`),
    );
    expect((Object.getOwnPropertyDescriptor(parsed, '__proto__')!.value as { v: unknown }).v).toBeInstanceOf(Embedding);
  });

  it('does not let an upstream forge a vector with a string that looks like a placeholder', () => {
    const forged = '\u0000embctl-vector-0000000000000000-0';
    const text = JSON.stringify({ fake: forged, embedding: b64(100) });
    const parsed = parse(text) as { fake: unknown };
    expect(parsed.fake).toBe(forged);
  });

  it('reads a flat array of printed floats as an Embedding over the bytes sent, pretty-printed or not', () => {
    const floats = Array.from(vector(300), (x) => x);
    for (const text of [JSON.stringify({ embedding: floats }), JSON.stringify({ embedding: floats }, null, 2)]) {
      const parsed = parse(text, [700]) as { embedding: Embedding };
      expect(parsed.embedding).toBeInstanceOf(Embedding);
      expect(parsed.embedding.length).toBe(300);
      expect(JSON.parse(parsed.embedding.wireText('float')!.toString())).toEqual(floats);
      expect(Array.from(parsed.embedding.toFloat32())).toEqual(Array.from(Float32Array.from(floats)));
      expect(parsed.embedding.wireText('base64')).toBeUndefined();
    }
  });

  it('counts a printed vector right whatever length it is told to expect (the hint only speeds up the check)', () => {
    const floats = Array.from(vector(300), (x) => x);
    const text = JSON.stringify({ embedding: floats });
    for (const hint of [300, 299, 301, 1, undefined]) {
      const parsed = parseUpstreamJson(chunked(text, [400]), hint) as { embedding: Embedding };
      expect(parsed.embedding).toBeInstanceOf(Embedding);
      expect(parsed.embedding.length).toBe(300);
    }
    // One number more, and not valid JSON: no hint makes it pass.
    expect(parseUpstreamJson(chunked(`${text.slice(0, -2)},01]}`), 301)).toBeUndefined();
  });

  it('leaves alone arrays that are not flat arrays of plain numbers', () => {
    const many = (item: string) => Array.from({ length: 100 }, () => item).join(',');
    const cases = [
      `[${many('[1,2]')}]`, // nested
      `[${many('"x"')}]`, // strings
      `[${many('1')},1e400]`, // beyond float32 and double
      `[${many('1')},${'9'.repeat(40)}]`, // 40 integer digits
      `[${many('0.5')},true]`,
    ];
    for (const array of cases) {
      const json = `{"embedding":${array}}`;
      const parsed = parse(json) as { embedding: unknown };
      expect(parsed.embedding).not.toBeInstanceOf(Embedding);
      expect(parsed).toEqual(JSON.parse(json));
    }
    for (const bad of ['01', '1.', '-', '1e', '+1', '.5', '1,,2']) {
      expect(parse(`{"embedding":[${many('0.25')},${bad}]}`)).toBeUndefined(); // invalid JSON stays invalid
    }
  });
});

describe('non-finite vectors are never lifted', () => {
  const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  // NaN payloads other than the canonical one: exponent all ones, any non-zero mantissa, either sign.
  const nanBits = fc
    .tuple(fc.boolean(), fc.integer({ min: 1, max: 0x7fffff }))
    .map(([sign, mantissa]) => ((sign ? 0x80000000 : 0) | 0x7f800000 | mantissa) >>> 0);

  it('a base64 vector holding NaN or ±Inf at any position stays a plain string (the adapter then refuses it)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 700 }),
        fc.nat(),
        fc.oneof(
          fc.constantFrom(...NON_FINITE).map((v) => ({ value: v })),
          nanBits.map((bits) => ({ bits })),
        ),
        (dims, at, bad) => {
          const v = vector(dims);
          const position = at % dims;
          if ('value' in bad) v[position] = bad.value;
          else new Uint32Array(v.buffer)[position] = bad.bits;
          const parsed = parse(JSON.stringify({ data: [{ embedding: float32ToBase64(v) }] })) as {
            data: { embedding: unknown }[];
          };
          expect(typeof parsed.data[0]!.embedding).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every finite base64 vector is still lifted, whatever its values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 64, maxLength: 600 }),
        (values) => {
          const parsed = parse(
            JSON.stringify({ data: [{ embedding: float32ToBase64(Float32Array.from(values)) }] }),
          ) as { data: { embedding: unknown }[] };
          expect(parsed.data[0]!.embedding).toBeInstanceOf(Embedding);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a printed float that may pass float32 range is left to the full check', () => {
    const floats = (last: string) =>
      (parse(`{"data":[{"embedding":[${'0.25,'.repeat(100)}${last}]}]}`) as { data: { embedding: unknown }[] }).data[0]!
        .embedding;
    expect(floats('3.4e38')).not.toBeInstanceOf(Embedding);
    expect(floats('5e38')).not.toBeInstanceOf(Embedding);
    expect(floats('9'.repeat(39))).not.toBeInstanceOf(Embedding);
    expect(floats('9'.repeat(38))).toBeInstanceOf(Embedding);
    expect(floats('1e37')).toBeInstanceOf(Embedding);
    expect(floats('-2.5e-40')).toBeInstanceOf(Embedding);
  });
});
