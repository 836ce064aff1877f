import { openaiCompatibleAdapter } from '../../../src/gateway/providers/openai-compatible.js';
import { describeAdapter } from './harness.js';

describeAdapter(openaiCompatibleAdapter, {
  requests: [
    {
      name: 'texts, encoding asked, no user',
      call: { user: 'u', encoding: 'base64' },
      credential: 't',
      url: 'http://upstream.test/v1/embeddings',
      headers: { authorization: 'Bearer t' },
      body: { input: ['alpha', 'beta'], encoding_format: 'base64' },
      absent: ['user'],
    },
    {
      name: 'no credential, no authorization header',
      url: 'http://upstream.test/v1/embeddings',
      body: { model: 'm-1' },
    },
    {
      name: "the reference's param_mappings rename fields, additional_body_params is merged last",
      connection: { param_mappings: { input: 'texts', model: 'model_id' }, additional_body_params: { truncate: true } },
      url: 'http://upstream.test/v1/embeddings',
      body: { texts: ['alpha', 'beta'], model_id: 'm-1', truncate: true },
      absent: ['input', 'model'],
    },
    {
      name: 'header templates: {api_key} in a configured header replaces the default Bearer, as the reference does',
      connection: { headers: { 'x-api-key': '{api_key}', 'x-org': 'acme {token}' } },
      credential: 'sekret',
      url: 'http://upstream.test/v1/embeddings',
      headers: { 'x-api-key': 'sekret', 'x-org': 'acme sekret' },
      absentHeaders: ['authorization'],
      body: { model: 'm-1' },
    },
    {
      name: "base_domain stands for base_url (the reference's alias)",
      connection: { base_url: undefined, base_domain: 'http://other.test/api' },
      url: 'http://other.test/api/embeddings',
      body: { model: 'm-1' },
    },
    {
      name: 'dimensions',
      call: { dimensions: 64 },
      url: 'http://upstream.test/v1/embeddings',
      body: { dimensions: 64 },
    },
  ],
  responses: [
    {
      name: 'usage.total_tokens when prompt_tokens is absent',
      body: { data: [{ embedding: [1, 2] }], usage: { total_tokens: 9 } },
      vectors: [[1, 2]],
      promptTokens: 9,
    },
    {
      name: 'the served model as reported',
      body: { data: [{ index: 0, embedding: [1] }], model: 'bge-small-q8' },
      model: 'bge-small-q8',
    },
    { name: 'an empty vector', body: { data: [{ index: 0, embedding: [] }] }, refused: /non-empty array/ },
  ],
  errors: [
    { body: { message: 'model not loaded', type: 'NotFound' }, message: 'model not loaded' },
    { body: { error: 'busy' }, message: 'busy' },
  ],
  models: [['anything', 128, false]],
});
