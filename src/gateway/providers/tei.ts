/**
 * Hugging Face Text Embeddings Inference, native route: `POST {base}/embed` with `inputs`, a bare
 * `[[…]]` back and the token count in the `x-compute-tokens` header; 32 inputs per call (TEI's
 * default `--max-client-batch-size`). No `dimensions`.
 */
import { PROVIDERS } from '../../core/providers.js';
import { commonErrorMessage, configuredBase, extraOptions, joinUrl, readVectors, texts } from './shared.js';
import type { HttpAdapter } from './types.js';

export const teiAdapter: HttpAdapter = {
  kind: 'http',
  id: 'huggingface-tei',
  baseUrl: (connection) => configuredBase(connection),
  defaultModel: PROVIDERS['huggingface-tei'].defaultModel,
  maxInputsPerCall: 32,
  acceptsTokenInputs: false,
  checkModel: (_model, dimensions) =>
    dimensions === undefined
      ? undefined
      : "TEI's /embed cannot shorten vectors ('dimensions'); serve a model of the size you need",
  buildRequest(call, baseUrl) {
    const body = { truncate: false, ...extraOptions(call.entity), inputs: texts(call) };
    return {
      url: joinUrl(baseUrl, 'embed'),
      headers: {},
      body,
    };
  },
  parseResponse(body, headers, call) {
    const computed = Number(headers['x-compute-tokens']);
    return {
      vectors: readVectors(body, 'the body'),
      model: call.model,
      promptTokens: Number.isFinite(computed) && computed > 0 ? computed : undefined,
    };
  },
  errorMessage: commonErrorMessage,
};
