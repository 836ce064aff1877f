/**
 * Input bytes to text, refusing what is not text: a NUL byte (a binary file) or bytes that are not
 * valid in the input's encoding (Latin-1 read as UTF-8 becomes `caf\uFFFD` and is embedded, and
 * paid for, as garbage). The error names the file and the line. `--encoding` reads another
 * encoding; `--allow-invalid` decodes what it can with U+FFFD replacements, as before.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { CliError, ExitCode } from '../../core/errors.js';

export interface Decoding {
  /** A WHATWG encoding label: utf-8 (default), latin1, utf-16le, windows-1252, … */
  encoding: string;
  allowInvalid: boolean;
}

export const DEFAULT_DECODING: Decoding = { encoding: 'utf-8', allowInvalid: false };

/** Index of the first byte that breaks UTF-8 in `bytes` (a sequence cut at the end is not a break), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const length =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    for (let k = 1; k < length; k++) {
      if (i + k >= bytes.length) return -1;
      const c = bytes[i + k]!;
      const lowest = k === 1 && b === 0xe0 ? 0xa0 : k === 1 && b === 0xf0 ? 0x90 : 0x80;
      const highest = k === 1 && b === 0xed ? 0x9f : k === 1 && b === 0xf4 ? 0x8f : 0xbf;
      if (c < lowest || c > highest) return i;
    }
    i += length;
  }
  return -1;
}

const lineAt = (bytes: Uint8Array, end: number, startLine: number) => {
  let line = startLine;
  for (let i = 0; i < end; i++) if (bytes[i] === 0x0a) line++;
  return line;
};

function notText(where: string, line: number, what: string, decoding: Decoding): CliError {
  return new CliError(
    `${where}:${line} ${what}; it is not ${decoding.encoding} text, and embedding it would spend tokens on garbage`,
    ExitCode.usage,
    decoding.encoding === 'utf-8'
      ? 'if the file is text in another encoding, pass --encoding (e.g. latin1); --allow-invalid embeds it anyway'
      : '--allow-invalid embeds it anyway, with U+FFFD for what cannot be decoded',
  );
}

/** A stream of the input as checked text; `where` names it in errors (a path, or stdin). */
export function decodingStream(where: string, decoding: Decoding): Transform {
  const decoder = new TextDecoder(decoding.encoding, { fatal: !decoding.allowInvalid });
  const utf8 = decoder.encoding === 'utf-8';
  let line = 1;
  return new Transform({
    readableObjectMode: false,
    decodeStrings: false,
    transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback) {
      if (typeof chunk === 'string') return done(null, chunk); // already text (a test's stdin)
      if (!decoding.allowInvalid) {
        const nul = chunk.indexOf(0);
        if (nul !== -1)
          return done(notText(where, lineAt(chunk, nul, line), 'holds a NUL byte (a binary file?)', decoding));
      }
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const bad = utf8 ? Math.max(0, firstInvalidUtf8(chunk)) : 0;
        return done(
          notText(where, lineAt(chunk, bad, line), `has bytes that are not valid ${decoding.encoding}`, decoding),
        );
      }
      line = lineAt(chunk, chunk.length, line);
      done(null, text);
    },
    flush(done: TransformCallback) {
      try {
        done(null, decoder.decode());
      } catch {
        done(notText(where, line, `ends inside a ${decoding.encoding} character`, decoding));
      }
    },
  });
}

/** A whole file's bytes as checked text (document trees, JSON arrays). */
export function decodeWhole(bytes: Buffer, where: string, decoding: Decoding): string {
  if (!decoding.allowInvalid) {
    const nul = bytes.indexOf(0);
    if (nul !== -1) throw notText(where, lineAt(bytes, nul, 1), 'holds a NUL byte (a binary file?)', decoding);
  }
  try {
    return new TextDecoder(decoding.encoding, { fatal: !decoding.allowInvalid }).decode(bytes);
  } catch {
    const bad = Math.max(0, firstInvalidUtf8(bytes));
    throw notText(where, lineAt(bytes, bad, 1), `has bytes that are not valid ${decoding.encoding}`, decoding);
  }
}
