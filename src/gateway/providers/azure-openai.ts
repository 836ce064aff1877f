/**
 * Azure OpenAI, as the reference gateway reads an entity:
 * - `api_version` absent or `v1`: `{base}/openai/v1/embeddings` with `model` = the deployment name,
 *   `{base}` being `base_url` (used as is when it already ends in `/openai/v1`), else
 *   `https://{resource_name}.openai.azure.com`;
 * - any other `api_version`: `{base}/openai/deployments/{deployment_id}/embeddings?api-version=V`,
 *   the body without `model` (the deployment decides).
 * Keys: `api_key` goes as `api-key`, `token` as `Authorization: Bearer` (an Entra ID token); a
 * `token` that is not a JWT is an API key, and goes as `api-key` too (Azure refuses keys as Bearer
 * on deployment URLs). Entra client credentials (`tenant_id`, …) mint the Bearer token instead.
 */
import { PROVIDERS } from '../../core/providers.js';
import { commonErrorMessage, configuredBase, extraOptions, joinUrl, numberAt, parseOpenAIShape } from './shared.js';
import type { HttpAdapter } from './types.js';

const V1 = 'v1';
const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]*$/;

export const azureOpenaiAdapter: HttpAdapter = {
  kind: 'http',
  id: 'azure-openai',
  baseUrl: (connection) =>
    configuredBase(connection) ??
    (connection.resource_name ? `https://${connection.resource_name}.openai.azure.com` : undefined),
  defaultModel: PROVIDERS['azure-openai'].defaultModel,
  defaultModelFor: (connection) => connection.deployment_id,
  maxInputsPerCall: 2048,
  acceptsTokenInputs: true,
  checkModel: (model, dimensions) =>
    dimensions !== undefined && /ada-002/.test(model)
      ? `'${model}' has a fixed size of 1536; 'dimensions' needs a text-embedding-3 deployment`
      : undefined,
  presentKeys({ token, apiKey }) {
    const headers: Record<string, string> = {};
    if (apiKey) headers['api-key'] = apiKey;
    if (token && JWT.test(token)) headers.authorization = `Bearer ${token}`;
    else if (token && !apiKey) headers['api-key'] = token;
    return headers;
  },
  buildRequest(call, baseUrl) {
    const { connection } = call.entity.config;
    const body: Record<string, unknown> = {
      input: call.inputs,
      encoding_format: call.encoding,
      ...extraOptions(call.entity),
    };
    if (call.dimensions !== undefined) body.dimensions = call.dimensions;
    if (call.user !== undefined) body.user = call.user;
    const version = connection.api_version ?? V1;
    // A dated version without a deployment is refused on write; one stored before keeps the v1 path it had.
    if (version === V1 || !connection.deployment_id) {
      const v1 = /\/openai\/v1\/?$/.test(baseUrl) ? baseUrl : joinUrl(baseUrl, 'openai/v1');
      return { url: joinUrl(v1, 'embeddings'), headers: {}, body: { model: call.model, ...body } };
    }
    const deployment = encodeURIComponent(connection.deployment_id);
    const path = `openai/deployments/${deployment}/embeddings?api-version=${encodeURIComponent(version)}`;
    return { url: joinUrl(baseUrl, path), headers: {}, body };
  },
  parseResponse: (body, _headers, call) => parseOpenAIShape(body, call, (b) => numberAt(b, 'usage', 'prompt_tokens')),
  errorMessage: commonErrorMessage,
};
