import { voyageAdapter } from '../../../src/gateway/providers/voyage.js';
import { describeAdapter } from './harness.js';

describeAdapter(voyageAdapter, {
  requests: [
    {
      name: 'input, model, output_dimension',
      call: { model: 'voyage-3.5', dimensions: 512 },
      credential: 'v',
      url: 'http://upstream.test/v1/embeddings',
      headers: { authorization: 'Bearer v' },
      body: { model: 'voyage-3.5', input: ['alpha', 'beta'], output_dimension: 512 },
      absent: ['encoding_format'],
    },
    {
      name: 'input_type from options',
      options: { input_type: 'query' },
      url: 'http://upstream.test/v1/embeddings',
      body: { input_type: 'query' },
    },
  ],
  responses: [
    {
      name: 'usage.total_tokens',
      body: { data: [{ index: 0, embedding: [1] }], model: 'voyage-3.5', usage: { total_tokens: 11 } },
      promptTokens: 11,
    },
  ],
  errors: [{ body: { detail: 'Provided API key is invalid.' }, message: 'Provided API key is invalid.' }],
  models: [
    ['voyage-3', 256, true],
    ['voyage-3.5-lite', 256, false],
  ],
});
