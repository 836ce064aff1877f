import fc from 'fast-check';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodingStream, firstInvalidUtf8 } from '../../src/cli/embed/decode.js';

const collect = async (chunks: Buffer[], encoding = 'utf-8') => {
  let text = '';
  for await (const part of Readable.from(chunks).pipe(decodingStream('in.txt', { encoding, allowInvalid: false })))
    text += part;
  return text;
};

describe('input decoding', () => {
  it('agrees with the platform on what is valid UTF-8', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const complete = firstInvalidUtf8(bytes) === -1;
        let decodes = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
        } catch {
          decodes = false;
        }
        expect(complete).toBe(decodes);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes text cut anywhere across chunks, multi-byte characters included', async () => {
    const text = 'naïve café 東京 😀\nsecond line ✓\n';
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await collect([bytes.subarray(0, cut), bytes.subarray(cut)])).toBe(text);
    }
  });

  it('names the line of a NUL byte or an invalid sequence, counted across chunks', async () => {
    await expect(collect([Buffer.from('a\nb\n'), Buffer.from('c\nd\u0000e')])).rejects.toThrow(
      'in.txt:4 holds a NUL byte',
    );
    await expect(collect([Buffer.from('one\ntwo\n'), Buffer.from('caf\xe9\n', 'latin1')])).rejects.toThrow(
      'in.txt:3 has bytes that are not valid utf-8',
    );
    expect(await collect([Buffer.from('caf\xe9\n', 'latin1')], 'latin1')).toBe('café\n');
  });
});
