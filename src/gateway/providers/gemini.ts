/**
 * Google Gemini: `POST {base}/models/{model}:batchEmbedContents` with one request per text,
 * `x-goog-api-key` auth, 100 requests per call. Options (`taskType`, `title`, …) go into each request;
 * `dimensions` becomes `outputDimensionality`. Gemini reports no usage: the gateway estimates it.
 */
import { PROVIDERS } from '../../core/providers.js';
import { commonErrorMessage, extraOptions, joinUrl, readVector, texts } from './shared.js';
import { UpstreamShapeError, type HttpAdapter } from './types.js';

export const geminiAdapter: HttpAdapter = {
  kind: 'http',
  id: 'gemini',
  baseUrl: (connection) => connection.base_url ?? PROVIDERS.gemini.defaultBaseUrl,
  defaultModel: PROVIDERS.gemini.defaultModel,
  maxInputsPerCall: 100,
  acceptsTokenInputs: false,
  checkModel: () => undefined,
  buildRequest(call, baseUrl, credential) {
    const model = call.model.replace(/^models\//, '');
    const options = extraOptions(call.entity);
    const requests = texts(call).map((text) => ({
      model: `models/${model}`,
      content: { parts: [{ text }] },
      ...options,
      ...(call.dimensions !== undefined ? { outputDimensionality: call.dimensions } : {}),
    }));
    const headers = {
      ...(credential ? { 'x-goog-api-key': credential } : {}),
      ...call.entity.config.connection.headers,
    };
    return {
      url: joinUrl(baseUrl, `models/${encodeURIComponent(model)}:batchEmbedContents`),
      headers,
      body: { requests },
    };
  },
  parseResponse(body, _headers, call) {
    const embeddings = (body as { embeddings?: unknown } | null)?.embeddings;
    if (!Array.isArray(embeddings)) throw new UpstreamShapeError("the body has no 'embeddings' array");
    return {
      vectors: embeddings.map((e, i) =>
        readVector((e as { values?: unknown } | null)?.values, `embeddings[${i}].values`),
      ),
      model: call.model,
    };
  },
  errorMessage: commonErrorMessage,
};
