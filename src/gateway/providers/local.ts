/**
 * The built-in `local` provider: offline, deterministic embeddings by signed feature hashing.
 *
 * Lexical, not neural: words, word pairs and character trigrams are hashed into a fixed number of
 * dimensions with a ±1 sign each, then the vector is L2-normalised. Texts sharing words and word
 * pieces land close together; synonyms with no shared letters do not. Same text, same vector, on
 * every machine and run (integer hashing over UTF-16 code units, no randomness, no floats until the
 * final sum). Token-id inputs are decoded with cl100k_base and embedded as that text.
 */
import { PROVIDERS } from '../../core/providers.js';
import { decodeTokens } from '../../core/tokenizer.js';
import { Embedding } from '../../core/vectors.js';
import type { EmbeddingInput } from '../../core/embeddings-request.js';
import type { EmbedCall, EmbedResult, InProcessAdapter } from './types.js';

export const LOCAL_MAX_DIMENSIONS = 4096;
export const LOCAL_DEFAULT_DIMENSIONS = 384;
/** `hash-384-v1`: the dimension count and the algorithm's version, so a change of either is a new model. */
const LOCAL_MODEL = /^hash-(\d+)-v1$/;

const WORD = /[\p{L}\p{N}]+/gu;
const WEIGHT_WORD = 1;
const WEIGHT_BIGRAM = 0.7;
const WEIGHT_TRIGRAM = 0.5;
// Distinct seeds keep the word "the" and the trigram "the" in different buckets.
const SEED_WORD = 0x811c9dc5;
const SEED_BIGRAM = 0x01000193;
const SEED_TRIGRAM = 0x9e3779b9;

function fnv1a(text: string, start: number, end: number, seed: number): number {
  let hash = seed >>> 0;
  for (let i = start; i < end; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's finaliser: spreads FNV's weak low bits before they pick a bucket and a sign. */
function mix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function addFeature(acc: Float64Array, hash: number, weight: number): void {
  const mixed = mix(hash);
  const bucket = mixed % acc.length;
  // The sign comes from bits the bucket index barely uses, so collisions cancel out on average.
  acc[bucket]! += (mixed & 0x10000) === 0 ? weight : -weight;
}

function addTrigrams(acc: Float64Array, padded: string): void {
  for (let i = 0; i + 3 <= padded.length; i++) addFeature(acc, fnv1a(padded, i, i + 3, SEED_TRIGRAM), WEIGHT_TRIGRAM);
}

export function hashEmbed(text: string, dimensions: number): Float32Array {
  const normalised = text.normalize('NFKC').toLowerCase();
  const acc = new Float64Array(dimensions);
  const words = normalised.match(WORD) ?? [];
  let previous = -1;
  for (const word of words) {
    const wordHash = fnv1a(word, 0, word.length, SEED_WORD);
    addFeature(acc, wordHash, WEIGHT_WORD);
    if (previous !== -1)
      addFeature(acc, Math.imul(previous, 31) ^ fnv1a(word, 0, word.length, SEED_BIGRAM), WEIGHT_BIGRAM);
    previous = wordHash;
    addTrigrams(acc, ` ${word} `);
  }
  // Text with no letters or digits ("!!!", "   ") still gets a vector of its own.
  if (words.length === 0) addTrigrams(acc, ` ${normalised} `);

  let sum = 0;
  for (let i = 0; i < dimensions; i++) sum += acc[i]! * acc[i]!;
  const scale = sum === 0 ? 0 : 1 / Math.sqrt(sum);
  const out = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) out[i] = acc[i]! * scale;
  return out;
}

function dimensionsOf(call: EmbedCall): number {
  return call.dimensions ?? Number(LOCAL_MODEL.exec(call.model)?.[1] ?? LOCAL_DEFAULT_DIMENSIONS);
}

function textOf(input: EmbeddingInput): string {
  return typeof input === 'string' ? input : decodeTokens(input);
}

export const localAdapter: InProcessAdapter = {
  kind: 'in-process',
  id: 'local',
  defaultModel: PROVIDERS.local.defaultModel,
  // Small parts, so that the gateway can let other requests run between them.
  maxInputsPerCall: 32,
  acceptsTokenInputs: true,
  checkModel(model, dimensions) {
    const named = LOCAL_MODEL.exec(model);
    if (!named) return `the local provider serves models named hash-<dimensions>-v1 (e.g. hash-384-v1), not '${model}'`;
    const native = Number(named[1]);
    if (native < 1 || native > LOCAL_MAX_DIMENSIONS)
      return `'${model}' names ${native} dimensions; the local provider produces 1 to ${LOCAL_MAX_DIMENSIONS}`;
    if (dimensions !== undefined && dimensions > LOCAL_MAX_DIMENSIONS)
      return `the local provider produces at most ${LOCAL_MAX_DIMENSIONS} dimensions; ${dimensions} were asked for`;
    return undefined;
  },
  embed(call: EmbedCall): EmbedResult {
    const dimensions = dimensionsOf(call);
    // cl100k_base is this provider's declared tokenizer, so the count is exact, not an estimate.
    return {
      vectors: call.inputs.map((input) => Embedding.ofFloats(hashEmbed(textOf(input), dimensions))),
      model: call.model,
      promptTokens: call.tokenCount,
    };
  },
};
