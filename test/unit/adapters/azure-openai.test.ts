import { azureOpenaiAdapter } from '../../../src/gateway/providers/azure-openai.js';
import { describeAdapter } from './harness.js';

describeAdapter(azureOpenaiAdapter, {
  requests: [
    {
      name: 'legacy deployment URL, api-key header, no model in the body',
      connection: {
        base_url: undefined,
        resource_name: 'acme',
        deployment_id: 'emb deploy',
        api_version: '2024-02-01',
      },
      credential: 'az-key',
      url: 'https://acme.openai.azure.com/openai/deployments/emb%20deploy/embeddings?api-version=2024-02-01',
      headers: { 'api-key': 'az-key' },
      body: { input: ['alpha', 'beta'], encoding_format: 'float' },
      absent: ['model'],
    },
    {
      name: 'v1 path with the deployment as model',
      connection: { base_url: 'https://acme.openai.azure.com' },
      credential: 'k',
      url: 'https://acme.openai.azure.com/openai/v1/embeddings',
      headers: { 'api-key': 'k' },
      body: { model: 'm-1' },
    },
    {
      name: 'dimensions and user',
      connection: { base_url: 'https://x.test', deployment_id: 'd', api_version: '2024-10-21' },
      call: { dimensions: 512, user: 'u' },
      url: 'https://x.test/openai/deployments/d/embeddings?api-version=2024-10-21',
      body: { dimensions: 512, user: 'u' },
    },
    {
      name: 'no api_version: the v1 path, as the reference reads it (deployment_id alone does not pick the legacy URL)',
      connection: { base_url: undefined, resource_name: 'acme', deployment_id: 'd' },
      url: 'https://acme.openai.azure.com/openai/v1/embeddings',
      body: { model: 'm-1' },
    },
    {
      name: 'a base_url already ending in /openai/v1 is used as is (not given a second one)',
      connection: { base_url: 'https://acme.openai.azure.com/openai/v1', api_version: 'v1' },
      url: 'https://acme.openai.azure.com/openai/v1/embeddings',
      body: { model: 'm-1' },
    },
    {
      name: 'api_key and an Entra token: api-key and Authorization: Bearer, as the reference sends them',
      connection: {
        base_url: undefined,
        resource_name: 'acme',
        deployment_id: 'd',
        api_version: '2024-02-01',
        api_key: 'az-key-1',
        token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      },
      url: 'https://acme.openai.azure.com/openai/deployments/d/embeddings?api-version=2024-02-01',
      headers: { 'api-key': 'az-key-1', authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' },
      body: { input: ['alpha', 'beta'] },
    },
  ],
  responses: [
    {
      name: 'OpenAI shape',
      body: { data: [{ index: 0, embedding: [0.5] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 2 } },
      vectors: [[0.5]],
      promptTokens: 2,
    },
  ],
  errors: [
    {
      body: { error: { code: '401', message: 'Access denied due to invalid subscription key.' } },
      message: 'Access denied due to invalid subscription key.',
    },
  ],
  models: [
    ['text-embedding-ada-002', 256, true],
    ['text-embedding-3-large', 256, false],
  ],
});
