import { describe, expect, it } from 'vitest';
import { vertexAiAdapter } from '../../../src/gateway/providers/vertex-ai.js';
import { describeAdapter } from './harness.js';

describeAdapter(vertexAiAdapter, {
  requests: [
    {
      name: ':predict on the regional host, task_type per instance, outputDimensionality and autoTruncate as parameters',
      connection: { base_url: undefined, project_id: 'my-proj', location: 'europe-west4' },
      options: { task_type: 'RETRIEVAL_QUERY', autoTruncate: false },
      call: { model: 'text-embedding-005', dimensions: 256 },
      url:
        'https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/publishers/google/' +
        'models/text-embedding-005:predict',
      body: {
        instances: [
          { content: 'alpha', task_type: 'RETRIEVAL_QUERY' },
          { content: 'beta', task_type: 'RETRIEVAL_QUERY' },
        ],
        parameters: { outputDimensionality: 256, autoTruncate: false },
      },
    },
    {
      name: 'the global location has no regional prefix; us-central1 is the default',
      connection: { base_url: undefined, project_id: 'p', location: 'global' },
      url: 'https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/m-1:predict',
      body: { instances: [{ content: 'alpha' }, { content: 'beta' }] },
      absent: ['parameters'],
    },
    {
      name: 'a static token (an access token minted elsewhere) as Bearer',
      connection: { base_url: undefined, project_id: 'p' },
      credential: 'ya29.x',
      url: 'https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/m-1:predict',
      headers: { authorization: 'Bearer ya29.x' },
      body: {},
    },
  ],
  responses: [
    {
      name: 'predictions with statistics.token_count summed',
      body: {
        predictions: [
          { embeddings: { values: [0.5], statistics: { token_count: 2, truncated: false } } },
          { embeddings: { values: [0.25], statistics: { token_count: 3, truncated: false } } },
        ],
      },
      vectors: [[0.5], [0.25]],
      promptTokens: 5,
    },
    {
      name: 'a prediction without statistics: usage estimated',
      body: { predictions: [{ embeddings: { values: [1] } }] },
      promptTokens: undefined,
    },
    { name: 'no predictions', body: { error: 'x' }, refused: /predictions/ },
  ],
  errors: [
    { body: { error: { code: 400, message: 'Project not found', status: 'NOT_FOUND' } }, message: 'Project not found' },
  ],
  models: [['text-embedding-005', 256, false]],
});

describe('vertex-ai limits', () => {
  it('gemini-embedding-001 takes one instance per call, the text-embedding models 250', () => {
    expect(vertexAiAdapter.inputsPerCall?.('gemini-embedding-001')).toBe(1);
    expect(vertexAiAdapter.inputsPerCall?.('text-embedding-005')).toBe(250);
  });
});
