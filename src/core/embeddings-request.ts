/**
 * Validation of an OpenAI `POST /v1/embeddings` body.
 *
 * Hand-written rather than schema-generated: it runs on every request, and each failure must carry
 * OpenAI's `param`/`code` and a message that names the offending value, which a union schema's
 * generic issues do not give.
 */
import { invalidRequest } from './errors.js';
import { EMBEDDINGS_LIMITS } from './limits.js';
import { CL100K_VOCAB_SIZE, countTextTokens, tokenBound } from './tokenizer.js';

export { EMBEDDINGS_LIMITS };

export type EncodingFormat = 'float' | 'base64';
/** One input: text, or a pre-tokenized cl100k token array. */
export type EmbeddingInput = string | number[];

export interface EmbeddingsRequest {
  model: string;
  inputs: EmbeddingInput[];
  /** True when the caller sent token arrays (int[] or int[][]) rather than text. */
  tokenInputs: boolean;
  encodingFormat: EncodingFormat;
  dimensions?: number;
  user?: string;
  /** cl100k_base token count of each input, in order: counted on first read (most calls never need it). */
  readonly tokenCounts: number[];
  readonly totalTokens: number;
}

const KNOWN_FIELDS = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}

const INPUT_SHAPES =
  'a non-empty string, an array of non-empty strings, an array of token ids, or an array of token-id arrays';

function checkTokenArray(tokens: unknown[], where: string): number[] {
  if (tokens.length === 0) throw invalidRequest(`${where} is an empty token array; each input needs at least one token.`, 'input', 'empty_input');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= CL100K_VOCAB_SIZE) {
      throw invalidRequest(
        `${where}[${i}] is ${describe(t)}, which is not a cl100k_base token id (an integer from 0 to ${CL100K_VOCAB_SIZE - 1}).`,
        'input',
        'invalid_token',
      );
    }
  }
  return tokens as number[];
}

function parseInputs(input: unknown): { inputs: EmbeddingInput[]; tokenInputs: boolean } {
  if (input === undefined || input === null) {
    throw invalidRequest(`'input' is required: ${INPUT_SHAPES}.`, 'input', 'missing_required_parameter');
  }
  if (typeof input === 'string') {
    if (input.length === 0) throw invalidRequest("'input' is an empty string; embeddings need non-empty text.", 'input', 'empty_input');
    return { inputs: [input], tokenInputs: false };
  }
  if (!Array.isArray(input)) throw invalidRequest(`'input' must be ${INPUT_SHAPES}; got ${describe(input)}.`, 'input', 'invalid_type');
  if (input.length === 0) throw invalidRequest("'input' is an empty array; send at least one input.", 'input', 'empty_input');
  if (input.length > EMBEDDINGS_LIMITS.maxInputs) {
    throw invalidRequest(
      `'input' has ${input.length} items; at most ${EMBEDDINGS_LIMITS.maxInputs} are allowed in one request. Split it into several requests.`,
      'input',
      'too_many_inputs',
    );
  }
  const first = input[0];
  if (typeof first === 'string') {
    for (let i = 0; i < input.length; i++) {
      const item = input[i];
      if (typeof item !== 'string') throw invalidRequest(`'input[${i}]' is ${describe(item)}; an array of texts must hold only strings.`, 'input', 'invalid_type');
      if (item.length === 0) throw invalidRequest(`'input[${i}]' is an empty string; every input must be non-empty text.`, 'input', 'empty_input');
    }
    return { inputs: input as string[], tokenInputs: false };
  }
  if (typeof first === 'number') return { inputs: [checkTokenArray(input, "'input'")], tokenInputs: true };
  if (Array.isArray(first)) {
    const lists = input.map((item, i) => {
      if (!Array.isArray(item)) throw invalidRequest(`'input[${i}]' is ${describe(item)}; an array of token arrays must hold only arrays of integers.`, 'input', 'invalid_type');
      return checkTokenArray(item, `'input[${i}]'`);
    });
    return { inputs: lists, tokenInputs: true };
  }
  throw invalidRequest(`'input[0]' is ${describe(first)}; 'input' must be ${INPUT_SHAPES}.`, 'input', 'invalid_type');
}

const exactCount = (item: EmbeddingInput) => (typeof item === 'string' ? countTextTokens(item) : item.length);

function tooLong(index: number, count: number) {
  return invalidRequest(
    `'input[${index}]' has ${count} tokens; the maximum context length is ${EMBEDDINGS_LIMITS.maxTokensPerInput} tokens per input. Shorten or chunk it.`,
    'input',
    'context_length_exceeded',
  );
}

/**
 * OpenAI's token limits, checked with the tokenizer only where a cheap upper bound cannot prove
 * them met: a batch of short texts (the common case) is never tokenized here.
 */
function checkTokenLimits(inputs: EmbeddingInput[]): void {
  let bounded = 0;
  for (let i = 0; i < inputs.length; i++) {
    const item = inputs[i]!;
    let count = typeof item === 'string' ? tokenBound(item) : item.length;
    if (count > EMBEDDINGS_LIMITS.maxTokensPerInput) {
      count = exactCount(item);
      if (count > EMBEDDINGS_LIMITS.maxTokensPerInput) throw tooLong(i, count);
    }
    bounded += count;
  }
  if (bounded <= EMBEDDINGS_LIMITS.maxTokensPerRequest) return;
  const total = inputs.reduce((sum, item) => sum + exactCount(item), 0);
  if (total > EMBEDDINGS_LIMITS.maxTokensPerRequest) {
    throw invalidRequest(
      `The request has ${total} tokens in all; at most ${EMBEDDINGS_LIMITS.maxTokensPerRequest} are allowed in one request. Send fewer inputs per request.`,
      'input',
      'max_tokens_per_request',
    );
  }
}

/** A validated request whose token counts are computed when first asked for. */
class ParsedRequest implements EmbeddingsRequest {
  private counts: number[] | undefined;
  dimensions?: number;
  user?: string;

  constructor(
    readonly model: string,
    readonly inputs: EmbeddingInput[],
    readonly tokenInputs: boolean,
    readonly encodingFormat: EncodingFormat,
  ) {}

  get tokenCounts(): number[] {
    return (this.counts ??= this.inputs.map(exactCount));
  }

  get totalTokens(): number {
    return this.tokenCounts.reduce((sum, n) => sum + n, 0);
  }
}

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest(`The request body must be a JSON object with 'model' and 'input'; got ${describe(body)}.`, null, 'invalid_body');
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw invalidRequest(`Unrecognized request argument supplied: ${key}. Allowed: model, input, encoding_format, dimensions, user.`, key, 'unknown_parameter');
    }
  }
  const { model, encoding_format: encodingFormat, dimensions, user } = fields;
  if (model === undefined || model === null || model === '') {
    throw invalidRequest("You must provide a 'model' parameter (run `embctl models list` or GET /v1/models to see the enabled models).", 'model', 'missing_required_parameter');
  }
  if (typeof model !== 'string') throw invalidRequest(`'model' must be a string; got ${describe(model)}.`, 'model', 'invalid_type');
  if (encodingFormat !== undefined && encodingFormat !== null && encodingFormat !== 'float' && encodingFormat !== 'base64') {
    throw invalidRequest(`'encoding_format' must be "float" or "base64"; got ${describe(encodingFormat)}.`, 'encoding_format', 'invalid_value');
  }
  if (dimensions !== undefined && dimensions !== null) {
    if (typeof dimensions !== 'number' || !Number.isSafeInteger(dimensions) || dimensions < 1) {
      throw invalidRequest(`'dimensions' must be a positive integer; got ${describe(dimensions)}.`, 'dimensions', 'invalid_value');
    }
  }
  if (user !== undefined && user !== null && typeof user !== 'string') {
    throw invalidRequest(`'user' must be a string; got ${describe(user)}.`, 'user', 'invalid_type');
  }
  const { inputs, tokenInputs } = parseInputs(fields.input);
  checkTokenLimits(inputs);
  const request = new ParsedRequest(model, inputs, tokenInputs, encodingFormat === 'base64' ? 'base64' : 'float');
  if (typeof dimensions === 'number') request.dimensions = dimensions;
  if (typeof user === 'string') request.user = user;
  return request;
}
