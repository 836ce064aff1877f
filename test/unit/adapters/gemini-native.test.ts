import { geminiNativeAdapter } from '../../../src/gateway/providers/gemini-native.js';
import { describeAdapter } from './harness.js';

describeAdapter(geminiNativeAdapter, {
  requests: [
    {
      name: 'batchEmbedContents, one request per text, x-goog-api-key',
      call: { model: 'models/gemini-embedding-001', dimensions: 768 },
      credential: 'g',
      url: 'http://upstream.test/v1/models/gemini-embedding-001:batchEmbedContents',
      headers: { 'x-goog-api-key': 'g' },
      body: {
        requests: [
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'alpha' }] }, outputDimensionality: 768 },
          { content: { parts: [{ text: 'beta' }] } },
        ],
      },
    },
    {
      name: 'taskType from options',
      options: { taskType: 'RETRIEVAL_QUERY' },
      url: 'http://upstream.test/v1/models/m-1:batchEmbedContents',
      body: { requests: [{ taskType: 'RETRIEVAL_QUERY' }, { taskType: 'RETRIEVAL_QUERY' }] },
    },
  ],
  responses: [
    {
      name: 'embeddings[].values, no usage (estimated)',
      body: { embeddings: [{ values: [1, 2] }, { values: [3, 4] }] },
      vectors: [
        [1, 2],
        [3, 4],
      ],
      promptTokens: undefined,
    },
    { name: 'no embeddings array', body: { embedding: { values: [1] } }, refused: /no 'embeddings' array/ },
  ],
  errors: [
    {
      body: { error: { code: 400, message: 'API key not valid', status: 'INVALID_ARGUMENT' } },
      message: 'API key not valid',
    },
  ],
  models: [['gemini-embedding-001', 768, false]],
});
