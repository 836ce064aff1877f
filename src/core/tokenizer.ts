/**
 * Token counting with cl100k_base, the encoding of OpenAI's embedding models, shipped inside the
 * gpt-tokenizer package (no download). Its default export is o200k_base, which would miscount.
 *
 * Bounded work: BPE is quadratic in the length of one pre-token, so a text of one long word (or a
 * long run of spaces, punctuation or CJK) could hold a process for minutes. Texts are cut into
 * spans at points where cl100k's own pre-tokenizer breaks anyway (exact), and runs longer than
 * MAX_PIECE characters with no such point are cut every MAX_PIECE characters (the count of such a
 * run can then differ from the whole-text count by a token or so per cut; real text has none).
 * The work is then linear, and the async forms yield to the event loop between spans.
 *
 * Loaded on first use, synchronously from the package's CommonJS build: its ~30 MB of vocabulary
 * stays out of CLI processes that never need an exact count (V8 then sizes their heaps smaller).
 * The gateway preloads it before listening instead (see `preloadTokenizer`).
 */
import { createRequire } from 'node:module';

type Cl100k = typeof import('gpt-tokenizer/encoding/cl100k_base');
type Loader = () => Cl100k;

/** cl100k_base ids run from 0 to 100 276 (ordinary ranks, then the special tokens). */
export const CL100K_VOCAB_SIZE = 100_277;

/** Longest run handed to the BPE whole: cl100k's longest real tokens are shorter. */
export const MAX_PIECE = 64;
/** Text handed to the BPE in one call: amortises its per-call cost, small enough to yield between. */
const SPAN = 2048;
/** CPU a counting task may take before it lets other work run. */
const SLICE_MS = 2;

const load: Loader = (() => {
  let cl100k: Cl100k | undefined;
  return () => (cl100k ??= createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/cl100k_base') as Cl100k);
})();

// `<|endoftext|>` in a text is text to an embeddings endpoint, not a special token (the library throws otherwise).
const AS_TEXT = { disallowedSpecial: new Set<string>() };

const isSpace = (c: number) =>
  c === 32 ||
  (c >= 9 && c <= 13) ||
  c === 0xa0 ||
  c === 0x3000 ||
  (c >= 0x2000 && c <= 0x200a) ||
  c === 0x2028 ||
  c === 0x2029;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The spans a text is counted in. A space after a non-space always starts a cl100k pre-token (no
 * pattern carries a word on through a space), so cutting there changes nothing.
 */
export function* spansOf(text: string): Generator<string> {
  let start = 0;
  let pieceStart = 0;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 && !isSpace(text.charCodeAt(i - 1))) {
      pieceStart = i;
      if (i - start >= SPAN) {
        yield text.slice(start, i);
        start = i;
      }
    } else if (i - pieceStart >= MAX_PIECE && !isLowSurrogate(c)) {
      yield text.slice(start, i);
      start = pieceStart = i;
    }
  }
  if (start < text.length) yield text.slice(start);
}

/** Tokens of `text`, stopping once the count passes `stopAbove` (the result is then some number above it). */
export function countTextTokens(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  const { countTokens } = load();
  let count = 0;
  for (const span of spansOf(text)) {
    count += countTokens(span, AS_TEXT);
    if (count > stopAbove) break;
  }
  return count;
}

export function encodeText(text: string): number[] {
  const { encode } = load();
  const ids: number[] = [];
  for (const span of spansOf(text)) for (const id of encode(span, AS_TEXT)) ids.push(id);
  return ids;
}

/**
 * Loads the vocabulary now (~100 ms of synchronous work, ~40 MB): a gateway does it before it
 * listens, so that the first request that needs a count does not hold every other one.
 */
export function preloadTokenizer(): void {
  load();
}

export function decodeTokens(tokens: readonly number[]): string {
  return load().decode(tokens as number[]);
}

/** Lets the event loop run I/O and timers once the current slice of CPU is used up. */
export function timeSlicer(sliceMs = SLICE_MS): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since < sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        since = performance.now();
        resolve();
      }),
    );
  };
}

/** The async form of `countTextTokens`: yields between spans, so a huge text never blocks other work. */
export async function countTextTokensSliced(
  text: string,
  stopAbove: number,
  pause: () => Promise<void> | undefined,
): Promise<number> {
  const { countTokens } = load();
  let count = 0;
  for (const span of spansOf(text)) {
    count += countTokens(span, AS_TEXT);
    if (count > stopAbove) break;
    await pause();
  }
  return count;
}

/**
 * A cheap upper bound of a text's tokens without the tokenizer: every cl100k token is at least one
 * UTF-8 byte, and one UTF-16 unit is at most three bytes.
 */
export const tokenBound = (text: string): number => text.length * 3;
