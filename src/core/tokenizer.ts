/**
 * Token counting with cl100k_base, the encoding of OpenAI's embedding models, shipped inside the
 * gpt-tokenizer package (no download). Its default export is o200k_base, which would miscount.
 */
import { countTokens, decode, encode } from 'gpt-tokenizer/encoding/cl100k_base';

/** cl100k_base ids run from 0 to 100 276 (ordinary ranks, then the special tokens). */
export const CL100K_VOCAB_SIZE = 100_277;

export function countTextTokens(text: string): number {
  return countTokens(text);
}

export function encodeText(text: string): number[] {
  return encode(text);
}

export function decodeTokens(tokens: readonly number[]): string {
  return decode(tokens as number[]);
}
