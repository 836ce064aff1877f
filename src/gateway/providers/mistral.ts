/** Mistral: OpenAI-shaped `/v1/embeddings`; `output_dimension` only on models that support it (not mistral-embed). */
import { dimensionsFor, numberAt, openAIStyleAdapter } from './shared.js';

export const mistralAdapter = openAIStyleAdapter({
  id: 'mistral',
  maxInputsPerCall: 512,
  acceptsTokenInputs: false,
  dimensionsField: 'output_dimension',
  checkModel: dimensionsFor(/^codestral-embed/, 'Mistral'),
  forwardsEncoding: false,
  tokens: (body) => numberAt(body, 'usage', 'prompt_tokens'),
});
