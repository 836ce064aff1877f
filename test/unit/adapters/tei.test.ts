import { teiAdapter } from '../../../src/gateway/providers/tei.js';
import { describeAdapter } from './harness.js';

describeAdapter(teiAdapter, {
  requests: [
    {
      name: '/embed with inputs and truncate: false',
      connection: { base_url: 'http://tei.test:8080' },
      url: 'http://tei.test:8080/embed',
      body: { inputs: ['alpha', 'beta'], truncate: false },
    },
    {
      name: 'options override, bearer when configured',
      options: { truncate: true, normalize: false },
      credential: 'h',
      url: 'http://upstream.test/v1/embed',
      headers: { authorization: 'Bearer h' },
      body: { truncate: true, normalize: false },
    },
  ],
  responses: [
    {
      name: 'a bare array, tokens from x-compute-tokens',
      body: [
        [1, 2],
        [3, 4],
      ],
      headers: { 'x-compute-tokens': '6' },
      vectors: [
        [1, 2],
        [3, 4],
      ],
      promptTokens: 6,
    },
    { name: 'no token header: estimated', body: [[1]], promptTokens: undefined },
    { name: 'not an array', body: { embeddings: [] }, refused: /not an array/ },
  ],
  errors: [
    { body: { error: 'Input validation error', error_type: 'Validation' }, message: 'Input validation error' },
    { body: { message: 'too big', type: 'validation' }, message: 'too big' },
  ],
  models: [
    ['bge-small-en-v1.5', undefined, false],
    ['bge-small-en-v1.5', 128, true],
  ],
});
