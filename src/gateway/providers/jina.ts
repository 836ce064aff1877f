/** Jina AI: OpenAI-shaped `/v1/embeddings`; `dimensions` from jina-embeddings-v3 on, `task` via options. */
import { dimensionsFor, numberAt, openAIStyleAdapter } from './shared.js';

export const jinaAdapter = openAIStyleAdapter({
  id: 'jina',
  maxInputsPerCall: 2048,
  acceptsTokenInputs: false,
  dimensionsField: 'dimensions',
  checkModel: dimensionsFor(/^jina-(embeddings-v[3-9]|clip-v2)/, 'Jina'),
  forwardsEncoding: false,
  tokens: (body) => numberAt(body, 'usage', 'prompt_tokens') ?? numberAt(body, 'usage', 'total_tokens'),
});
