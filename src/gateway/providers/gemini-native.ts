/**
 * Google Gemini's own API (`gemini` follows the reference gateway onto the OpenAI-compatible one): `POST {base}/models/{model}:batchEmbedContents` with one request per text,
 * `x-goog-api-key` auth, 100 requests per call. Options (`taskType`, `title`, …) go into each request;
 * `dimensions` becomes `outputDimensionality`. Gemini reports no usage: the gateway estimates it.
 */
import { PROVIDERS } from '../../core/providers.js';
import { commonErrorMessage, configuredBase, extraOptions, joinUrl, readVector, texts } from './shared.js';
import { UpstreamShapeError, type HttpAdapter } from './types.js';

export const geminiNativeAdapter: HttpAdapter = {
  kind: 'http',
  id: 'gemini-native',
  baseUrl: (connection) => configuredBase(connection) ?? PROVIDERS['gemini-native'].defaultBaseUrl,
  defaultModel: PROVIDERS['gemini-native'].defaultModel,
  maxInputsPerCall: 100,
  acceptsTokenInputs: false,
  checkModel: () => undefined,
  presentKeys: (keys): Record<string, string> => (keys.token ? { 'x-goog-api-key': keys.token } : {}),
  buildRequest(call, baseUrl) {
    const model = call.model.replace(/^models\//, '');
    const options = extraOptions(call.entity);
    const requests = texts(call).map((text) => ({
      model: `models/${model}`,
      content: { parts: [{ text }] },
      ...options,
      ...(call.dimensions !== undefined ? { outputDimensionality: call.dimensions } : {}),
    }));
    return {
      url: joinUrl(baseUrl, `models/${encodeURIComponent(model)}:batchEmbedContents`),
      headers: {},
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
