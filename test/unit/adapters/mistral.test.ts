import { mistralAdapter } from '../../../src/gateway/providers/mistral.js';
import { describeAdapter } from './harness.js';

describeAdapter(mistralAdapter, {
  requests: [
    {
      name: 'OpenAI-shaped, no encoding_format',
      credential: 'm',
      url: 'http://upstream.test/v1/embeddings',
      headers: { authorization: 'Bearer m' },
      body: { model: 'm-1', input: ['alpha', 'beta'] },
      absent: ['encoding_format', 'user'],
    },
    {
      name: 'dimensions as output_dimension',
      call: { model: 'codestral-embed', dimensions: 256 },
      url: 'http://upstream.test/v1/embeddings',
      body: { output_dimension: 256 },
      absent: ['dimensions'],
    },
  ],
  responses: [
    {
      name: 'usage.prompt_tokens',
      body: { data: [{ index: 0, embedding: [1] }], model: 'mistral-embed', usage: { prompt_tokens: 5 } },
      promptTokens: 5,
      model: 'mistral-embed',
    },
  ],
  errors: [{ body: { message: 'Unauthorized', request_id: 'r' }, message: 'Unauthorized' }],
  models: [
    ['mistral-embed', 256, true],
    ['codestral-embed', 256, false],
    ['mistral-embed', undefined, false],
  ],
});
