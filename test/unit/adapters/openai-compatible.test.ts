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
