/**
 * Azure OpenAI, two URL forms:
 * - legacy deployments: `{base}/openai/deployments/{deployment}/embeddings?api-version=V`, the body
 *   without `model` (the deployment decides), when `deployment_id` is set;
 * - v1: `{base}/openai/v1/embeddings` with `model` = the deployment name, otherwise.
 * `{base}` is `base_url`, else `https://{resource_name}.openai.azure.com`. Auth: `api-key` header.
 */
import { PROVIDERS } from '../../core/providers.js';
import { bearer, commonErrorMessage, extraOptions, joinUrl, numberAt, parseOpenAIShape } from './shared.js';
import type { HttpAdapter } from './types.js';

const DEFAULT_API_VERSION = '2024-10-21';

export const azureOpenaiAdapter: HttpAdapter = {
  kind: 'http',
  id: 'azure-openai',
  baseUrl: (connection) =>
    connection.base_url ??
    (connection.resource_name ? `https://${connection.resource_name}.openai.azure.com` : undefined),
  defaultModel: PROVIDERS['azure-openai'].defaultModel,
  maxInputsPerCall: 2048,
  acceptsTokenInputs: true,
  checkModel: (model, dimensions) =>
    dimensions !== undefined && /ada-002/.test(model)
      ? `'${model}' has a fixed size of 1536; 'dimensions' needs a text-embedding-3 deployment`
      : undefined,
  buildRequest(call, baseUrl, credential) {
    const { connection } = call.entity.config;
    const headers = { ...(credential ? { 'api-key': credential } : bearer(undefined)), ...connection.headers };
    const body: Record<string, unknown> = {
      input: call.inputs,
      encoding_format: call.encoding,
      ...extraOptions(call.entity),
    };
    if (call.dimensions !== undefined) body.dimensions = call.dimensions;
    if (call.user !== undefined) body.user = call.user;
    if (connection.deployment_id) {
      const deployment = encodeURIComponent(connection.deployment_id);
      const version = encodeURIComponent(connection.api_version ?? DEFAULT_API_VERSION);
      const path = `openai/deployments/${deployment}/embeddings?api-version=${version}`;
      return { url: joinUrl(baseUrl, path), headers, body };
    }
    return { url: joinUrl(baseUrl, 'openai/v1/embeddings'), headers, body: { model: call.model, ...body } };
  },
  parseResponse: (body, _headers, call) => parseOpenAIShape(body, call, (b) => numberAt(b, 'usage', 'prompt_tokens')),
  errorMessage: commonErrorMessage,
};
