/**
 * AWS Bedrock: `POST {base}/model/{modelId}/invoke`, signed with SigV4 by the credential layer.
 * Two families behind one URL shape:
 * - Amazon Titan Text Embeddings (`amazon.titan-embed-text-v2:0`): one text per call, `dimensions`
 *   (256, 512, 1024) and `normalize` (on unless the entity's options say otherwise);
 * - Cohere Embed on Bedrock (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`,
 *   `cohere.embed-v4:0`): up to 96 texts, `input_type` (default `search_document`).
 * Usage: Titan's `inputTextTokenCount`, else Bedrock's `x-amzn-bedrock-input-token-count` header.
 * `{base}` is `base_url`, else `https://bedrock-runtime.{region}.amazonaws.com`.
 */
import { PROVIDERS } from '../../core/providers.js';
import {
  commonErrorMessage,
  configuredBase,
  extraOptions,
  joinUrl,
  numberAt,
  readVector,
  readVectors,
  texts,
} from './shared.js';
import { UpstreamShapeError, type EmbedCall, type HttpAdapter, type ResponseHeaders } from './types.js';

/** Model ids, cross-region inference profiles (`us.cohere.embed-v4:0`) and ARNs ending in one. */
const COHERE = /(?:^|[./])cohere\.embed-/;
const TITAN_V2 = /(?:^|[./])amazon\.titan-embed-text-v2/;
const COHERE_V4 = /(?:^|[./])cohere\.embed-v4/;
const COHERE_BATCH = 96;

const isCohere = (model: string) => COHERE.test(model);

function headerTokens(headers: ResponseHeaders): number | undefined {
  const raw = headers['x-amzn-bedrock-input-token-count'];
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function titanBody(call: EmbedCall): Record<string, unknown> {
  return {
    normalize: true,
    ...extraOptions(call.entity),
    inputText: texts(call)[0],
    ...(call.dimensions !== undefined ? { dimensions: call.dimensions } : {}),
  };
}

function cohereBody(call: EmbedCall): Record<string, unknown> {
  return {
    input_type: 'search_document',
    ...extraOptions(call.entity),
    texts: texts(call),
    embedding_types: ['float'],
    ...(call.dimensions !== undefined ? { output_dimension: call.dimensions } : {}),
  };
}

export const bedrockAdapter: HttpAdapter = {
  kind: 'http',
  id: 'bedrock',
  baseUrl: (connection) =>
    configuredBase(connection) ??
    (connection.region ? `https://bedrock-runtime.${connection.region}.amazonaws.com` : undefined),
  defaultModel: PROVIDERS.bedrock.defaultModel,
  maxInputsPerCall: COHERE_BATCH,
  inputsPerCall: (model) => (isCohere(model) ? COHERE_BATCH : 1),
  acceptsTokenInputs: false,
  checkModel(model, dimensions) {
    if (dimensions === undefined || TITAN_V2.test(model) || COHERE_V4.test(model)) return undefined;
    return `Bedrock's '${model}' has a fixed size; 'dimensions' needs amazon.titan-embed-text-v2:0 or cohere.embed-v4:0`;
  },
  buildRequest(call, baseUrl) {
    return {
      url: joinUrl(baseUrl, `model/${encodeURIComponent(call.model)}/invoke`),
      headers: {},
      body: isCohere(call.model) ? cohereBody(call) : titanBody(call),
    };
  },
  parseResponse(body, headers, call) {
    if (isCohere(call.model)) {
      const embeddings = (body as { embeddings?: unknown } | null)?.embeddings;
      // `embeddings_by_type` when embedding_types is sent (always, here); plain arrays from older models.
      const list = Array.isArray(embeddings) ? embeddings : (embeddings as { float?: unknown } | undefined)?.float;
      return { vectors: readVectors(list, 'embeddings.float'), model: call.model, promptTokens: headerTokens(headers) };
    }
    const embedding = (body as { embedding?: unknown } | null)?.embedding;
    if (embedding === undefined) throw new UpstreamShapeError("the body has no 'embedding'");
    return {
      vectors: [readVector(embedding, 'embedding')],
      model: call.model,
      promptTokens: numberAt(body, 'inputTextTokenCount') ?? headerTokens(headers),
    };
  },
  errorMessage: commonErrorMessage,
};
