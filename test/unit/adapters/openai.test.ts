import { openaiAdapter } from '../../../src/gateway/providers/openai.js';
import { b64, describeAdapter } from './harness.js';

describeAdapter(openaiAdapter, {
  requests: [
    {
      name: 'texts, bearer, the caller encoding',
      credential: 'sk-1',
      call: { encoding: 'base64' },
      url: 'http://upstream.test/v1/embeddings',
      headers: { authorization: 'Bearer sk-1' },
      body: { model: 'm-1', input: ['alpha', 'beta'], encoding_format: 'base64' },
    },
    {
      name: 'token arrays pass as they are',
      call: { inputs: [[1, 2], [3]] },
      url: 'http://upstream.test/v1/embeddings',
      body: { input: [[1, 2], [3]] },
    },
    {
      name: 'dimensions and user',
      call: { dimensions: 256, user: 'u-7' },
      url: 'http://upstream.test/v1/embeddings',
      body: { dimensions: 256, user: 'u-7' },
    },
    {
      name: 'extra options forwarded, custom headers kept',
      connection: { headers: { 'x-org': 'o' } },
      options: { encoding_format: 'float', foo: 1 },
      url: 'http://upstream.test/v1/embeddings',
      headers: { 'x-org': 'o' },
      body: { foo: 1, encoding_format: 'float' },
      absent: ['dimensions'],
    },
    {
      name: 'a trailing slash on the base URL',
      connection: { base_url: 'http://upstream.test/v1/' },
      url: 'http://upstream.test/v1/embeddings',
      body: {},
    },
  ],
  responses: [
    {
      name: 'data reordered by index, usage.prompt_tokens',
      body: {
        data: [
          { index: 1, embedding: [0.5, 0.25] },
          { index: 0, embedding: [1, 0] },
        ],
        model: 'text-embedding-3-small',
        usage: { prompt_tokens: 3 },
      },
      vectors: [
        [1, 0],
        [0.5, 0.25],
      ],
      model: 'text-embedding-3-small',
      promptTokens: 3,
    },
    {
      name: 'base64 vectors',
      body: { data: [{ index: 0, embedding: b64([0.1, -0.2]) }], usage: { prompt_tokens: 1 } },
      vectors: [[0.1, -0.2]],
      model: 'm-1',
    },
    { name: 'no usage: estimated later', body: { data: [{ index: 0, embedding: [1] }] }, promptTokens: undefined },
    { name: 'no data array', body: { object: 'list' }, refused: /no 'data' array/ },
    {
      name: 'NaN in a base64 vector',
      body: { data: [{ index: 0, embedding: b64([1, Number.NaN]) }] },
      refused: /NaN or infinite/,
    },
    {
      name: 'a number beyond float32',
      body: { data: [{ index: 0, embedding: [1, 5e38] }] },
      refused: /finite float32/,
    },
  ],
  errors: [
    { body: { error: { message: 'Incorrect API key', type: 'invalid_request_error' } }, message: 'Incorrect API key' },
    { body: { detail: 'not here' }, message: 'not here' },
    { body: { nothing: true }, message: undefined },
  ],
  models: [
    ['text-embedding-3-small', 256, false],
    ['text-embedding-ada-002', 256, true],
    ['text-embedding-ada-002', undefined, false],
  ],
});
