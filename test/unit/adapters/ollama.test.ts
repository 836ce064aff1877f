import { ollamaAdapter } from '../../../src/gateway/providers/ollama.js';
import { describeAdapter } from './harness.js';

describeAdapter(ollamaAdapter, {
  requests: [
    {
      name: '/api/embed with input and options',
      connection: { base_url: 'http://localhost:11434' },
      options: { truncate: true },
      url: 'http://localhost:11434/api/embed',
      body: { model: 'm-1', input: ['alpha', 'beta'], truncate: true },
    },
    {
      name: 'dimensions, bearer when configured',
      call: { dimensions: 32 },
      credential: 'o',
      url: 'http://upstream.test/v1/api/embed',
      headers: { authorization: 'Bearer o' },
      body: { dimensions: 32 },
    },
  ],
  responses: [
    {
      name: 'embeddings and prompt_eval_count',
      body: {
        model: 'nomic-embed-text:latest',
        embeddings: [
          [1, 0],
          [0, 1],
        ],
        prompt_eval_count: 4,
      },
      vectors: [
        [1, 0],
        [0, 1],
      ],
      model: 'nomic-embed-text:latest',
      promptTokens: 4,
    },
    { name: 'no embeddings', body: { error: 'x' }, refused: /embeddings/ },
  ],
  errors: [
    {
      body: { error: 'model "x" not found, try pulling it first' },
      message: 'model "x" not found, try pulling it first',
    },
  ],
  models: [['nomic-embed-text', 256, false]],
});
