/**
 * Token counting with cl100k_base, the encoding of OpenAI's embedding models, shipped inside the
 * gpt-tokenizer package (no download). Its default export is o200k_base, which would miscount.
 *
 * Loaded on first use, synchronously from the package's CommonJS build: its ~30 MB of vocabulary
 * stays out of processes that never need an exact count (V8 then sizes their heaps smaller).
 */
import { createRequire } from 'node:module';

type Cl100k = typeof import('gpt-tokenizer/encoding/cl100k_base');
let cl100k: Cl100k | undefined;
const load = (): Cl100k => (cl100k ??= createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/cl100k_base') as Cl100k);

/** cl100k_base ids run from 0 to 100 276 (ordinary ranks, then the special tokens). */
export const CL100K_VOCAB_SIZE = 100_277;

export function countTextTokens(text: string): number {
  return load().countTokens(text);
}

export function encodeText(text: string): number[] {
  return load().encode(text);
}

export function decodeTokens(tokens: readonly number[]): string {
  return load().decode(tokens as number[]);
}

/**
 * An upper bound of a text's tokens without the tokenizer: every cl100k token is at least one UTF-8
 * byte, and one UTF-16 unit is at most three bytes.
 */
export const tokenBound = (text: string): number => text.length * 3;
