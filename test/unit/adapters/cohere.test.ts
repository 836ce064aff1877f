import { cohereAdapter } from '../../../src/gateway/providers/cohere.js';
import { describeAdapter } from './harness.js';

describeAdapter(cohereAdapter, {
  requests: [
    {
      name: 'v2/embed, texts, input_type defaulting to search_document',
      credential: 'c',
      url: 'http://upstream.test/v1/v2/embed',
      headers: { authorization: 'Bearer c' },
      body: { model: 'm-1', texts: ['alpha', 'beta'], input_type: 'search_document', embedding_types: ['float'] },
    },
    {
      name: "the entity's input_type wins",
      options: { input_type: 'search_query' },
      url: 'http://upstream.test/v1/v2/embed',
      body: { input_type: 'search_query' },
    },
    {
      name: 'dimensions as output_dimension',
      call: { model: 'embed-v4.0', dimensions: 512 },
      url: 'http://upstream.test/v1/v2/embed',
      body: { output_dimension: 512 },
    },
  ],
  responses: [
    {
      name: 'embeddings.float and billed input tokens',
      body: { embeddings: { float: [[1, 2]] }, meta: { billed_units: { input_tokens: 7 } } },
      vectors: [[1, 2]],
      promptTokens: 7,
    },
    { name: 'embeddings not split by type', body: { embeddings: [[1, 2]] }, refused: /embeddings\.float/ },
  ],
  errors: [{ body: { message: 'invalid api token' }, message: 'invalid api token' }],
  models: [
    ['embed-english-v3.0', 256, true],
    ['embed-v4.0', 256, false],
  ],
});
