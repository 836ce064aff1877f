/**
 * Cohere v2: `POST {base}/v2/embed` with `texts`, the required `input_type` (from options, default
 * `search_document`: what a corpus is embedded as), `embedding_types: ["float"]`; 96 texts per call.
 */
import { PROVIDERS } from '../../core/providers.js';
import {
  commonErrorMessage,
  configuredBase,
  dimensionsFor,
  extraOptions,
  joinUrl,
  numberAt,
  readVectors,
  stringAt,
  texts,
} from './shared.js';
import type { HttpAdapter } from './types.js';

export const cohereAdapter: HttpAdapter = {
  kind: 'http',
  id: 'cohere',
  baseUrl: (connection) => configuredBase(connection) ?? PROVIDERS.cohere.defaultBaseUrl,
  defaultModel: PROVIDERS.cohere.defaultModel,
  maxInputsPerCall: 96,
  acceptsTokenInputs: false,
  // Only embed-v4.0 offers output_dimension (256, 512, 1024, 1536).
  checkModel: dimensionsFor(/^embed-v4/, 'Cohere'),
  buildRequest(call, baseUrl) {
    const body: Record<string, unknown> = {
      input_type: 'search_document',
      ...extraOptions(call.entity),
      model: call.model,
      texts: texts(call),
      embedding_types: ['float'],
    };
    if (call.dimensions !== undefined) body.output_dimension = call.dimensions;
    return {
      url: joinUrl(baseUrl, 'v2/embed'),
      headers: {},
      body,
    };
  },
  parseResponse(body, _headers, call) {
    const embeddings = (body as { embeddings?: { float?: unknown } } | null)?.embeddings;
    return {
      vectors: readVectors(embeddings?.float, 'embeddings.float'),
      model: stringAt(body, 'model') ?? call.model,
      promptTokens: numberAt(body, 'meta', 'billed_units', 'input_tokens'),
    };
  },
  errorMessage: commonErrorMessage,
};
