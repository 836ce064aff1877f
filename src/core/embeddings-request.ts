/**
 * Validation of an OpenAI `POST /v1/embeddings` body.
 *
 * Hand-written rather than schema-generated: it runs on every request, and each failure must carry
 * OpenAI's `param`/`code` and a message that names the offending value, which a union schema's
 * generic issues do not give.
 */
import { invalidRequest } from './errors.js';
import { EMBEDDINGS_LIMITS, STRING_LIMITS, clip } from './limits.js';
import { CL100K_VOCAB_SIZE, countTextTokensSliced, timeSlicer, tokenBound } from './tokenizer.js';

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
  /**
   * OpenAI's per-input and per-request token limits: decided by a cheap bound for most requests,
   * else counted in time slices (never blocking the event loop), stopping at the first limit passed.
   */
  checkTokenLimits(): Promise<void>;
  /** cl100k_base token count of each input, in order: counted on first call (most calls never need it). */
  tokenCounts(): Promise<number[]>;
  totalTokens(): Promise<number>;
  /** The same request for the inputs at `positions` only (the cache's misses), counts known so far kept. */
  select(positions: number[]): EmbeddingsRequest;
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
  if (tokens.length === 0)
    throw invalidRequest(
      `${where} is an empty token array; each input needs at least one token.`,
      'input',
      'empty_input',
    );
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= CL100K_VOCAB_SIZE) {
      throw invalidRequest(
        `${where}[${i}] is ${describe(t)}, which is not a cl100k_base token id (an integer from 0 to ` +
          `${CL100K_VOCAB_SIZE - 1}).`,
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
    if (input.length === 0)
      throw invalidRequest("'input' is an empty string; embeddings need non-empty text.", 'input', 'empty_input');
    return { inputs: [input], tokenInputs: false };
  }
  if (!Array.isArray(input))
    throw invalidRequest(`'input' must be ${INPUT_SHAPES}; got ${describe(input)}.`, 'input', 'invalid_type');
  if (input.length === 0)
    throw invalidRequest("'input' is an empty array; send at least one input.", 'input', 'empty_input');
  if (input.length > EMBEDDINGS_LIMITS.maxInputs) {
    throw invalidRequest(
      `'input' has ${input.length} items; at most ${EMBEDDINGS_LIMITS.maxInputs} are allowed in one request. Split ` +
        `it into several requests.`,
      'input',
      'too_many_inputs',
    );
  }
  const first = input[0];
  if (typeof first === 'string') {
    for (let i = 0; i < input.length; i++) {
      const item = input[i];
      if (typeof item !== 'string')
        throw invalidRequest(
          `'input[${i}]' is ${describe(item)}; an array of texts must hold only strings.`,
          'input',
          'invalid_type',
        );
      if (item.length === 0)
        throw invalidRequest(
          `'input[${i}]' is an empty string; every input must be non-empty text.`,
          'input',
          'empty_input',
        );
    }
    return { inputs: input as string[], tokenInputs: false };
  }
  if (typeof first === 'number') return { inputs: [checkTokenArray(input, "'input'")], tokenInputs: true };
  if (Array.isArray(first)) {
    const lists = input.map((item, i) => {
      if (!Array.isArray(item))
        throw invalidRequest(
          `'input[${i}]' is ${describe(item)}; an array of token arrays must hold only arrays of integers.`,
          'input',
          'invalid_type',
        );
      return checkTokenArray(item, `'input[${i}]'`);
    });
    return { inputs: lists, tokenInputs: true };
  }
  throw invalidRequest(`'input[0]' is ${describe(first)}; 'input' must be ${INPUT_SHAPES}.`, 'input', 'invalid_type');
}

function tooLong(index: number) {
  return invalidRequest(
    `'input[${index}]' has more than ${EMBEDDINGS_LIMITS.maxTokensPerInput} tokens; the maximum context length is ` +
      `${EMBEDDINGS_LIMITS.maxTokensPerInput} tokens per input. Shorten or chunk it.`,
    'input',
    'context_length_exceeded',
  );
}

function tooManyTokens() {
  return invalidRequest(
    `The request has more than ${EMBEDDINGS_LIMITS.maxTokensPerRequest} tokens in all; at most ` +
      `${EMBEDDINGS_LIMITS.maxTokensPerRequest} are allowed in one request. Send fewer inputs per request.`,
    'input',
    'max_tokens_per_request',
  );
}

/** A cheap upper bound: characters × 3, then UTF-8 bytes (every cl100k token is at least one byte). */
function boundOf(item: EmbeddingInput): number {
  if (typeof item !== 'string') return item.length;
  const rough = tokenBound(item);
  return rough <= EMBEDDINGS_LIMITS.maxTokensPerInput ? rough : Buffer.byteLength(item, 'utf8');
}

/** A validated request whose token counts are computed when first asked for, in time slices. */
class ParsedRequest implements EmbeddingsRequest {
  /** Exact counts known so far (by position); the rest are counted on demand. */
  private readonly exact: (number | undefined)[];
  private counting: Promise<number[]> | undefined;
  dimensions?: number;
  user?: string;

  constructor(
    readonly model: string,
    readonly inputs: EmbeddingInput[],
    readonly tokenInputs: boolean,
    readonly encodingFormat: EncodingFormat,
  ) {
    this.exact = new Array<number | undefined>(inputs.length);
  }

  async checkTokenLimits(): Promise<void> {
    const { maxTokensPerInput, maxTokensPerRequest } = EMBEDDINGS_LIMITS;
    const bounds = this.inputs.map(boundOf);
    const countAll = bounds.reduce((sum, n) => sum + n, 0) > maxTokensPerRequest;
    if (!countAll && bounds.every((n) => n <= maxTokensPerInput)) return;
    // The bound cannot decide: count exactly, stopping as soon as a limit is passed.
    const pause = timeSlicer();
    let total = 0;
    for (let i = 0; i < this.inputs.length; i++) {
      const item = this.inputs[i]!;
      let count = bounds[i]!;
      if (typeof item === 'string' && (countAll || count > maxTokensPerInput)) {
        count = this.exact[i] = await countTextTokensSliced(item, maxTokensPerInput, pause);
      }
      if (count > maxTokensPerInput) throw tooLong(i);
      total += count;
      if (countAll && total > maxTokensPerRequest) throw tooManyTokens();
    }
  }

  tokenCounts(): Promise<number[]> {
    return (this.counting ??= (async () => {
      const pause = timeSlicer();
      const counts: number[] = [];
      for (let i = 0; i < this.inputs.length; i++) {
        const item = this.inputs[i]!;
        counts.push(
          this.exact[i] ??
            (typeof item === 'string'
              ? await countTextTokensSliced(item, Number.POSITIVE_INFINITY, pause)
              : item.length),
        );
      }
      return counts;
    })());
  }

  async totalTokens(): Promise<number> {
    return (await this.tokenCounts()).reduce((sum, n) => sum + n, 0);
  }

  select(positions: number[]): EmbeddingsRequest {
    const part = new ParsedRequest(
      this.model,
      positions.map((i) => this.inputs[i]!),
      this.tokenInputs,
      this.encodingFormat,
    );
    part.dimensions = this.dimensions;
    part.user = this.user;
    positions.forEach((i, j) => {
      part.exact[j] = this.exact[i];
    });
    return part;
  }
}

/** The request's shape, checked synchronously and cheaply; `checkTokenLimits` is the costly rest. */
export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidRequest(
      `The request body must be a JSON object with 'model' and 'input'; got ${describe(body)}.`,
      null,
      'invalid_body',
    );
  }
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw invalidRequest(
        `Unrecognized request argument supplied: ${clip(key)}. Allowed: model, input, encoding_format, dimensions, ` +
          `user.`,
        clip(key),
        'unknown_parameter',
      );
    }
  }
  const { model, encoding_format: encodingFormat, dimensions, user } = fields;
  if (model === undefined || model === null || model === '') {
    throw invalidRequest(
      "You must provide a 'model' parameter (run `embctl models list` or GET /v1/models to see the enabled models).",
      'model',
      'missing_required_parameter',
    );
  }
  if (typeof model !== 'string')
    throw invalidRequest(`'model' must be a string; got ${describe(model)}.`, 'model', 'invalid_type');
  if (model.length > STRING_LIMITS.model) {
    throw invalidRequest(
      `'model' is ${model.length} characters long ('${clip(model)}'); model names have at most ` +
        `${STRING_LIMITS.model}. Run \`embctl models list\` for the names.`,
      'model',
      'model_too_long',
    );
  }
  if (
    encodingFormat !== undefined &&
    encodingFormat !== null &&
    encodingFormat !== 'float' &&
    encodingFormat !== 'base64'
  ) {
    throw invalidRequest(
      `'encoding_format' must be "float" or "base64"; got ${describe(encodingFormat)}.`,
      'encoding_format',
      'invalid_value',
    );
  }
  if (dimensions !== undefined && dimensions !== null) {
    if (typeof dimensions !== 'number' || !Number.isSafeInteger(dimensions) || dimensions < 1) {
      throw invalidRequest(
        `'dimensions' must be a positive integer; got ${describe(dimensions)}.`,
        'dimensions',
        'invalid_value',
      );
    }
  }
  if (user !== undefined && user !== null && typeof user !== 'string') {
    throw invalidRequest(`'user' must be a string; got ${describe(user)}.`, 'user', 'invalid_type');
  }
  if (typeof user === 'string' && user.length > STRING_LIMITS.user) {
    throw invalidRequest(
      `'user' is ${user.length} characters long; at most ${STRING_LIMITS.user} are allowed.`,
      'user',
      'invalid_value',
    );
  }
  const { inputs, tokenInputs } = parseInputs(fields.input);
  const request = new ParsedRequest(model, inputs, tokenInputs, encodingFormat === 'base64' ? 'base64' : 'float');
  if (typeof dimensions === 'number') request.dimensions = dimensions;
  if (typeof user === 'string') request.user = user;
  return request;
}
