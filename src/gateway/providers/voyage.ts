/** Voyage AI: OpenAI-shaped `/v1/embeddings`, 1000 inputs per call, usage in `usage.total_tokens`. */
import { dimensionsFor, numberAt, openAIStyleAdapter } from './shared.js';

export const voyageAdapter = openAIStyleAdapter({
  id: 'voyage',
  maxInputsPerCall: 1000,
  acceptsTokenInputs: false,
  dimensionsField: 'output_dimension',
  // Flexible output sizes arrived with voyage-3-large, 3.5, code-3 and context-3.
  checkModel: dimensionsFor(/^voyage-(3-large|3\.5(-lite)?|code-3|context-3|4)/, 'Voyage'),
  forwardsEncoding: false,
  tokens: (body) => numberAt(body, 'usage', 'total_tokens'),
});
