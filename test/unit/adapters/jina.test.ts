import { jinaAdapter } from '../../../src/gateway/providers/jina.js';
import { describeAdapter } from './harness.js';

describeAdapter(jinaAdapter, {
  requests: [
    {
      name: 'dimensions, task from options',
      call: { model: 'jina-embeddings-v3', dimensions: 256 },
      options: { task: 'retrieval.passage' },
      credential: 'j',
      url: 'http://upstream.test/v1/embeddings',
      headers: { authorization: 'Bearer j' },
      body: { dimensions: 256, task: 'retrieval.passage', input: ['alpha', 'beta'] },
    },
  ],
  responses: [
    {
      name: 'usage.total_tokens as a fallback',
      body: { data: [{ index: 0, embedding: [1] }], usage: { total_tokens: 3 } },
      promptTokens: 3,
    },
  ],
  errors: [{ body: { detail: [{ msg: 'field required' }] }, message: '[{"msg":"field required"}]' }],
  models: [
    ['jina-embeddings-v2-base-en', 256, true],
    ['jina-embeddings-v3', 256, false],
  ],
});
