import { bedrockAdapter } from '../../../src/gateway/providers/bedrock.js';
import { describeAdapter } from './harness.js';

describeAdapter(bedrockAdapter, {
  requests: [
    {
      name: 'Titan V2: one inputText, dimensions, normalize on by default, the model id escaped in the path',
      connection: { base_url: undefined, region: 'eu-west-3' },
      call: { model: 'amazon.titan-embed-text-v2:0', inputs: ['alpha'], dimensions: 256 },
      url: 'https://bedrock-runtime.eu-west-3.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke',
      body: { inputText: 'alpha', dimensions: 256, normalize: true },
      absent: ['texts', 'model'],
    },
    {
      name: "Titan: the entity's options win (normalize off)",
      options: { normalize: false },
      call: { model: 'amazon.titan-embed-text-v2:0', inputs: ['alpha'] },
      url: 'http://upstream.test/v1/model/amazon.titan-embed-text-v2%3A0/invoke',
      body: { inputText: 'alpha', normalize: false },
    },
    {
      name: 'Cohere on Bedrock: texts, input_type search_document by default, float embeddings',
      call: { model: 'cohere.embed-english-v3' },
      url: 'http://upstream.test/v1/model/cohere.embed-english-v3/invoke',
      body: { texts: ['alpha', 'beta'], input_type: 'search_document', embedding_types: ['float'] },
      absent: ['inputText', 'model'],
    },
    {
      name: 'Cohere v4 through a cross-region inference profile, output_dimension, input_type from options',
      options: { input_type: 'search_query' },
      call: { model: 'us.cohere.embed-v4:0', dimensions: 512 },
      url: 'http://upstream.test/v1/model/us.cohere.embed-v4%3A0/invoke',
      body: { texts: ['alpha', 'beta'], input_type: 'search_query', output_dimension: 512 },
    },
  ],
  responses: [
    {
      name: 'Titan: the vector and inputTextTokenCount',
      call: { model: 'amazon.titan-embed-text-v2:0', inputs: ['alpha'] },
      body: { embedding: [0.25, -0.5], inputTextTokenCount: 3 },
      vectors: [[0.25, -0.5]],
      promptTokens: 3,
      model: 'amazon.titan-embed-text-v2:0',
    },
    {
      name: 'Cohere: embeddings by type, tokens from the Bedrock header',
      call: { model: 'cohere.embed-english-v3' },
      body: { id: 'x', embeddings: { float: [[1], [2]] }, response_type: 'embeddings_by_type' },
      headers: { 'x-amzn-bedrock-input-token-count': '7' },
      vectors: [[1], [2]],
      promptTokens: 7,
    },
    {
      name: 'Cohere: plain embeddings_floats, no usage header (estimated then)',
      call: { model: 'cohere.embed-multilingual-v3' },
      body: { embeddings: [[1], [2]], response_type: 'embeddings_floats' },
      vectors: [[1], [2]],
      promptTokens: undefined,
    },
    {
      name: 'Titan without an embedding',
      call: { model: 'amazon.titan-embed-text-v2:0', inputs: ['alpha'] },
      body: { message: 'x' },
      refused: /no 'embedding'/,
    },
  ],
  errors: [
    {
      body: { message: 'Malformed input request: #: extraneous key [foo]' },
      message: 'Malformed input request: #: extraneous key [foo]',
    },
  ],
  models: [
    ['amazon.titan-embed-text-v2:0', 256, false],
    ['amazon.titan-embed-text-v1', 256, true],
    ['cohere.embed-english-v3', 256, true],
    ['cohere.embed-v4:0', 256, false],
    ['cohere.embed-english-v3', undefined, false],
  ],
});
