/**
 * Google Vertex AI text embeddings: `POST {base}/v1/projects/{project}/locations/{location}/
 * publishers/google/models/{model}:predict` with `instances` (`content`, and `task_type` / `title`
 * from the entity's options) and `parameters` (`outputDimensionality` from `dimensions`, and the
 * other options, such as `autoTruncate`). Tokens from each prediction's `statistics.token_count`.
 * `gemini-embedding-001` takes one instance per call, the text-embedding models 250.
 * `{base}` is `base_url`, else `https://{location}-aiplatform.googleapis.com` (`global`: no prefix).
 * Authenticated by a service-account key (an OAuth token minted by the credential layer) or a `token`.
 */
import { PROVIDERS } from '../../core/providers.js';
import { commonErrorMessage, configuredBase, extraOptions, joinUrl, readVector, texts } from './shared.js';
import { UpstreamShapeError, type HttpAdapter } from './types.js';

const DEFAULT_LOCATION = 'us-central1';
const PER_INSTANCE = new Set(['task_type', 'title']);
const TEXT_EMBEDDING_BATCH = 250;

const locationOf = (location: string | undefined) => location ?? DEFAULT_LOCATION;

export const vertexAiAdapter: HttpAdapter = {
  kind: 'http',
  id: 'vertex-ai',
  baseUrl(connection) {
    const location = locationOf(connection.location);
    return (
      configuredBase(connection) ??
      (location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`)
    );
  },
  defaultModel: PROVIDERS['vertex-ai'].defaultModel,
  maxInputsPerCall: TEXT_EMBEDDING_BATCH,
  inputsPerCall: (model) => (/^gemini-embedding/.test(model) ? 1 : TEXT_EMBEDDING_BATCH),
  acceptsTokenInputs: false,
  checkModel: () => undefined,
  buildRequest(call, baseUrl) {
    const { connection } = call.entity.config;
    const instanceFields: Record<string, unknown> = {};
    const parameters: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(extraOptions(call.entity)))
      (PER_INSTANCE.has(key) ? instanceFields : parameters)[key] = value;
    if (call.dimensions !== undefined) parameters.outputDimensionality = call.dimensions;
    const location = encodeURIComponent(locationOf(connection.location));
    const project = encodeURIComponent(connection.project_id ?? '');
    const model = encodeURIComponent(call.model);
    return {
      url: joinUrl(baseUrl, `v1/projects/${project}/locations/${location}/publishers/google/models/${model}:predict`),
      headers: {},
      body: {
        instances: texts(call).map((content) => ({ content, ...instanceFields })),
        ...(Object.keys(parameters).length ? { parameters } : {}),
      },
    };
  },
  parseResponse(body, _headers, call) {
    const predictions = (body as { predictions?: unknown } | null)?.predictions;
    if (!Array.isArray(predictions)) throw new UpstreamShapeError("the body has no 'predictions' array");
    let tokens = 0;
    let counted = true;
    const vectors = predictions.map((p, i) => {
      const embeddings = (p as { embeddings?: { values?: unknown; statistics?: { token_count?: unknown } } } | null)
        ?.embeddings;
      const count = embeddings?.statistics?.token_count;
      if (typeof count === 'number' && Number.isFinite(count)) tokens += count;
      else counted = false;
      return readVector(embeddings?.values, `predictions[${i}].embeddings.values`);
    });
    return { vectors, model: call.model, promptTokens: counted ? tokens : undefined };
  },
  errorMessage: commonErrorMessage,
};
