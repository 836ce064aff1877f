/**
 * Any server with an OpenAI-shaped `/embeddings` (vLLM, LM Studio, llama.cpp, LocalAI, TEI's OpenAI
 * route, another gateway): `base_url` required, Bearer optional, custom headers allowed. Its
 * tokenizer is unknown, so token-id inputs are refused; `dimensions` is forwarded for the server to judge.
 * Vectors are asked for in the caller's encoding, so they pass through untouched (vLLM, TEI and
 * others honour base64; a server that sends floats anyway, like llama.cpp, is read just the same);
 * set `options.encoding_format: float` for one that refuses base64.
 */
import { numberAt, openAIStyleAdapter } from './shared.js';

export const openaiCompatibleAdapter = openAIStyleAdapter({
  id: 'openai-compatible',
  maxInputsPerCall: 2048,
  acceptsTokenInputs: false,
  dimensionsField: 'dimensions',
  checkModel: () => undefined,
  forwardsEncoding: true,
  tokens: (body) => numberAt(body, 'usage', 'prompt_tokens') ?? numberAt(body, 'usage', 'total_tokens'),
});
