/** Each provider's wire format as its real API speaks it: paths, auth, bodies, limits and error shapes. */
import { awsDenied, sigV4Refusal, type TokenEndpoint } from './cloud-auth.js';
import type { Recorded, Reply, WireFormat } from './upstream.js';

export const TOKEN = 'sk-upstream-secret-0123456789';
/** Usage as the fake reports it: words of text, or the length of a token array. */
const words = (inputs: unknown[]) =>
  inputs.reduce<number>((n, t) => n + (Array.isArray(t) ? t.length : String(t).split(/\s+/).filter(Boolean).length), 0);
const asList = (input: unknown): string[] =>
  Array.isArray(input) && typeof input[0] !== 'number' ? (input as string[]) : [input as string];
const base64 = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString('base64');

function openAIError(status: number, message: string, code: string | null = null): Reply {
  return {
    status,
    body: {
      error: { message, type: status === 429 ? 'rate_limit_error' : 'invalid_request_error', param: null, code },
    },
  };
}

/** The shared checks of formats that authenticate with a header: 404 on a wrong path, 401 on a wrong credential. */
function guard(req: Recorded, path: RegExp, header: string, value: string, unauthorized: Reply): Reply | undefined {
  if (req.method !== 'POST' || !path.test(req.url))
    return { status: 404, body: { error: `no route ${req.method} ${req.url}` } };
  if (req.headers[header] !== value) return unauthorized;
  return undefined;
}

function openAIShaped(
  name: string,
  path: RegExp,
  options: {
    tokensField: 'prompt_tokens' | 'total_tokens';
    maxBatch: number;
    honoursBase64: boolean;
    modelSuffix?: string;
  },
): WireFormat {
  return {
    name,
    maxBatch: options.maxBatch,
    accept: (req) =>
      guard(
        req,
        path,
        'authorization',
        `Bearer ${TOKEN}`,
        openAIError(401, 'Incorrect API key provided: sk-upst****6789', 'invalid_api_key'),
      ),
    texts: (body) => asList(body.input),
    overLimit: (count) => openAIError(400, `'$.input' is invalid: ${count} items, at most ${options.maxBatch}`),
    respond(vectors, req) {
      const b64 = options.honoursBase64 && req.body.encoding_format === 'base64';
      const tokens = words(asList(req.body.input));
      return {
        status: 200,
        body: {
          object: 'list',
          data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: b64 ? base64(v) : v })),
          model: `${req.body.model ?? 'deployment-model'}${options.modelSuffix ?? ''}`,
          usage:
            options.tokensField === 'prompt_tokens'
              ? { prompt_tokens: tokens, total_tokens: tokens }
              : { total_tokens: tokens },
        },
      };
    },
    error: (status, message) => openAIError(status, message),
  };
}

export const FORMATS = {
  openai: openAIShaped('openai', /^\/v1\/embeddings$/, {
    tokensField: 'prompt_tokens',
    maxBatch: 2048,
    honoursBase64: true,
  }),
  // Google's OpenAI-compatible endpoint, as the reference gateway calls Gemini.
  'gemini-openai': openAIShaped('gemini-openai', /^\/v1beta\/openai\/embeddings$/, {
    tokensField: 'prompt_tokens',
    maxBatch: 100,
    honoursBase64: false,
  }),
  // xAI's route is under /v1 of a bare host.
  'x-ai': openAIShaped('x-ai', /^\/v1\/embeddings$/, {
    tokensField: 'prompt_tokens',
    maxBatch: 2048,
    honoursBase64: false,
  }),
  'azure-legacy': {
    ...openAIShaped('azure-legacy', /^\/openai\/deployments\/emb-deploy\/embeddings\?api-version=2024-02-01$/, {
      tokensField: 'prompt_tokens',
      maxBatch: 2048,
      honoursBase64: true,
    }),
    accept: (req: Recorded) =>
      guard(req, /^\/openai\/deployments\/emb-deploy\/embeddings\?api-version=2024-02-01$/, 'api-key', TOKEN, {
        status: 401,
        body: { error: { code: '401', message: 'Access denied due to invalid subscription key.' } },
      }),
  },
  'azure-v1': {
    ...openAIShaped('azure-v1', /^\/openai\/v1\/embeddings$/, {
      tokensField: 'prompt_tokens',
      maxBatch: 2048,
      honoursBase64: true,
    }),
    accept: (req: Recorded) =>
      guard(req, /^\/openai\/v1\/embeddings$/, 'api-key', TOKEN, {
        status: 401,
        body: { error: { code: '401', message: 'Access denied.' } },
      }),
  },
  // Servers like llama.cpp ignore encoding_format and always send floats.
  'openai-compatible': openAIShaped('openai-compatible', /^\/v1\/embeddings$/, {
    tokensField: 'prompt_tokens',
    maxBatch: 2048,
    honoursBase64: false,
    modelSuffix: '-q8',
  }),
  mistral: openAIShaped('mistral', /^\/v1\/embeddings$/, {
    tokensField: 'prompt_tokens',
    maxBatch: 512,
    honoursBase64: false,
  }),
  voyage: {
    ...openAIShaped('voyage', /^\/v1\/embeddings$/, {
      tokensField: 'total_tokens',
      maxBatch: 1000,
      honoursBase64: false,
    }),
    overLimit: (count: number) => ({
      status: 400,
      body: { detail: `The batch size limit is 1000. Your batch size is ${count}.` },
    }),
    error: (status: number, message: string) => ({ status, body: { detail: message } }),
  },
  jina: {
    ...openAIShaped('jina', /^\/v1\/embeddings$/, {
      tokensField: 'prompt_tokens',
      maxBatch: 2048,
      honoursBase64: false,
    }),
    error: (status: number, message: string) => ({ status, body: { detail: message } }),
  },
  cohere: {
    name: 'cohere',
    maxBatch: 96,
    accept(req: Recorded) {
      const refused = guard(req, /^\/v2\/embed$/, 'authorization', `Bearer ${TOKEN}`, {
        status: 401,
        body: { message: 'invalid api token' },
      });
      if (refused) return refused;
      if (!req.body.input_type)
        return {
          status: 400,
          body: { message: 'invalid request: input_type is required for embed models v3 and higher.' },
        };
      return undefined;
    },
    texts: (body: any) => body.texts as string[],
    overLimit: (count: number) => ({
      status: 400,
      body: { message: `invalid request: total number of texts must be at most 96 - received ${count}` },
    }),
    respond: (vectors: number[][], req: Recorded) => ({
      status: 200,
      body: {
        id: 'e1',
        embeddings: { float: vectors },
        texts: req.body.texts,
        meta: { api_version: { version: '2' }, billed_units: { input_tokens: words(req.body.texts) } },
      },
    }),
    error: (status: number, message: string) => ({ status, body: { message } }),
  },
  gemini: {
    name: 'gemini',
    maxBatch: 100,
    accept: (req: Recorded) =>
      guard(req, /^\/v1beta\/models\/[^/:]+:batchEmbedContents$/, 'x-goog-api-key', TOKEN, {
        status: 400,
        body: {
          error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT' },
        },
      }),
    texts: (body: any) =>
      (body.requests as { content: { parts: { text: string }[] } }[]).map((r) => r.content.parts[0]!.text),
    overLimit: () => ({
      status: 400,
      body: {
        error: {
          code: 400,
          message: '* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch',
          status: 'INVALID_ARGUMENT',
        },
      },
    }),
    respond: (vectors: number[][]) => ({ status: 200, body: { embeddings: vectors.map((values) => ({ values })) } }),
    error: (status: number, message: string) => ({
      status,
      body: { error: { code: status, message, status: 'FAILED_PRECONDITION' } },
    }),
  },
  ollama: {
    name: 'ollama',
    maxBatch: 100_000,
    accept: (req: Recorded) =>
      req.method === 'POST' && req.url === '/api/embed'
        ? undefined
        : { status: 404, body: { error: '404 page not found' } },
    texts: (body: any) => asList(body.input),
    overLimit: () => ({ status: 400, body: { error: 'too many inputs' } }),
    respond: (vectors: number[][], req: Recorded) => ({
      status: 200,
      body: {
        model: `${req.body.model}:latest`,
        embeddings: vectors,
        total_duration: 1,
        load_duration: 1,
        prompt_eval_count: words(asList(req.body.input)),
      },
    }),
    error: (status: number, message: string) => ({ status, body: { error: message } }),
  },
  'huggingface-tei': {
    name: 'huggingface-tei',
    maxBatch: 32,
    accept: (req: Recorded) =>
      req.method === 'POST' && req.url === '/embed'
        ? undefined
        : { status: 404, body: { error: 'not found', error_type: 'NotFound' } },
    texts: (body: any) => asList(body.inputs),
    overLimit: (count: number) => ({
      status: 413,
      body: { error: `batch size ${count} > maximum allowed batch size 32`, error_type: 'Validation' },
    }),
    respond: (vectors: number[][], req: Recorded) => ({
      status: 200,
      body: vectors,
      headers: { 'x-compute-tokens': String(words(asList(req.body.inputs))) },
    }),
    error: (status: number, message: string) => ({ status, body: { error: message, error_type: 'Backend' } }),
  },
} satisfies Record<string, WireFormat>;

export type FormatName = keyof typeof FORMATS;

const titanTokens = (text: string) => words([text]);

/** The cloud providers' formats, checking the authentication a real one would: SigV4, or a minted token. */
export function cloudFormats(tokens: () => TokenEndpoint) {
  const bedrock = (accept: RegExp) => async (req: Recorded) => {
    if (req.method !== 'POST' || !accept.test(req.url))
      return { status: 404, body: { message: `no model at ${req.url}` } } as Reply;
    const why = await sigV4Refusal(req, 'us-east-1', 'bedrock');
    return why ? awsDenied(why) : undefined;
  };
  const bearerMinted = (path: RegExp, unauthorized: (why: string) => Reply) => (req: Recorded) => {
    if (req.method !== 'POST' || !path.test(req.url)) return { status: 404, body: { error: `no route ${req.url}` } };
    const why = tokens().refusal(req.headers.authorization);
    return why ? unauthorized(why) : undefined;
  };
  const bedrockError = (status: number, message: string): Reply => ({ status, body: { message } });
  return {
    'bedrock-titan': {
      name: 'bedrock-titan',
      maxBatch: 1,
      accept: bedrock(/^\/model\/amazon\.titan-embed-text-v2%3A0\/invoke$/),
      texts: (body: any) => [body.inputText as string],
      overLimit: () => bedrockError(400, 'Malformed input request'),
      respond: (vectors: number[][], req: Recorded) => ({
        status: 200,
        body: {
          embedding: vectors[0],
          embeddingsByType: { float: vectors[0] },
          inputTextTokenCount: titanTokens(req.body.inputText),
        },
        headers: { 'x-amzn-bedrock-input-token-count': String(titanTokens(req.body.inputText)) },
      }),
      error: bedrockError,
    },
    'bedrock-cohere': {
      name: 'bedrock-cohere',
      maxBatch: 96,
      accept: bedrock(/^\/model\/cohere\.embed-v4%3A0\/invoke$/),
      texts: (body: any) => body.texts as string[],
      overLimit: (count: number) =>
        bedrockError(400, `Malformed input request: expected maxLength: 96, actual: ${count}`),
      respond: (vectors: number[][], req: Recorded) => ({
        status: 200,
        body: { id: 'b1', embeddings: { float: vectors }, response_type: 'embeddings_by_type', texts: req.body.texts },
        headers: { 'x-amzn-bedrock-input-token-count': String(words(req.body.texts)) },
      }),
      error: bedrockError,
    },
    vertex: {
      name: 'vertex',
      maxBatch: 250,
      accept: bearerMinted(
        /^\/v1\/projects\/proj-1\/locations\/us-central1\/publishers\/google\/models\/text-embedding-005:predict$/,
        (why) => ({
          status: 401,
          body: {
            error: {
              code: 401,
              message: `Request had invalid authentication credentials (${why}).`,
              status: 'UNAUTHENTICATED',
            },
          },
        }),
      ),
      texts: (body: any) => (body.instances as { content: string }[]).map((i) => i.content),
      overLimit: (count: number) => ({
        status: 400,
        body: { error: { code: 400, message: `${count} instances, at most 250`, status: 'INVALID_ARGUMENT' } },
      }),
      respond: (vectors: number[][], req: Recorded) => ({
        status: 200,
        body: {
          predictions: vectors.map((values, i) => ({
            embeddings: {
              values,
              statistics: { token_count: words([req.body.instances[i].content]), truncated: false },
            },
          })),
          metadata: { billableCharacterCount: 1 },
        },
      }),
      error: (status: number, message: string) => ({
        status,
        body: { error: { code: status, message, status: 'FAILED_PRECONDITION' } },
      }),
    },
    'azure-entra': {
      ...openAIShaped('azure-entra', /^\/openai\/v1\/embeddings$/, {
        tokensField: 'prompt_tokens',
        maxBatch: 2048,
        honoursBase64: true,
      }),
      accept: bearerMinted(/^\/openai\/v1\/embeddings$/, (why) => ({
        status: 401,
        body: { error: { code: 'InvalidAuthenticationToken', message: `The access token is invalid (${why}).` } },
      })),
    },
  } satisfies Record<string, WireFormat>;
}
