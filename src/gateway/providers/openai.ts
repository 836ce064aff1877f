/** OpenAI: `POST https://api.openai.com/v1/embeddings`, Bearer token, cl100k token inputs accepted. */
import { numberAt, openAIStyleAdapter } from './shared.js';

/** `dimensions` exists from text-embedding-3 on; ada-002 answers 400 to it. */
const FIXED_SIZE = /^text-embedding-ada-002$/;

export const openaiAdapter = openAIStyleAdapter({
  id: 'openai',
  maxInputsPerCall: 2048,
  acceptsTokenInputs: true,
  dimensionsField: 'dimensions',
  checkModel: (model, dimensions) =>
    dimensions !== undefined && FIXED_SIZE.test(model)
      ? `OpenAI's '${model}' has a fixed size of 1536; 'dimensions' needs text-embedding-3-* or later`
      : undefined,
  forwardsEncoding: true,
  tokens: (body) => numberAt(body, 'usage', 'prompt_tokens'),
  // As the reference: `https://api.openai.com` without `/v1` means the v1 API.
  fixBase: (base) => (/^https:\/\/api\.openai\.com\/?$/.test(base) ? 'https://api.openai.com/v1' : base),
});
