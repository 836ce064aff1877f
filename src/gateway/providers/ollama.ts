/** Ollama: `POST {base}/api/embed` (default http://localhost:11434), `embeddings` out, `prompt_eval_count` as usage. */
import { PROVIDERS } from '../../core/providers.js';
import {
  commonErrorMessage,
  configuredBase,
  extraOptions,
  joinUrl,
  numberAt,
  readVectors,
  stringAt,
  texts,
} from './shared.js';
import type { HttpAdapter } from './types.js';

export const ollamaAdapter: HttpAdapter = {
  kind: 'http',
  id: 'ollama',
  baseUrl: (connection) => configuredBase(connection) ?? PROVIDERS.ollama.defaultBaseUrl,
  defaultModel: PROVIDERS.ollama.defaultModel,
  maxInputsPerCall: 512,
  acceptsTokenInputs: false,
  checkModel: () => undefined,
  buildRequest(call, baseUrl) {
    const body: Record<string, unknown> = { ...extraOptions(call.entity), model: call.model, input: texts(call) };
    if (call.dimensions !== undefined) body.dimensions = call.dimensions;
    return {
      url: joinUrl(baseUrl, 'api/embed'),
      headers: {},
      body,
    };
  },
  parseResponse(body, _headers, call) {
    return {
      vectors: readVectors((body as { embeddings?: unknown } | null)?.embeddings, 'embeddings'),
      model: stringAt(body, 'model') ?? call.model,
      promptTokens: numberAt(body, 'prompt_eval_count'),
    };
  },
  errorMessage: commonErrorMessage,
};
