/**
 * Any server with an OpenAI-shaped `/embeddings` (vLLM, LM Studio, llama.cpp, LocalAI, TEI's OpenAI
 * route, another gateway): `base_url` required, Bearer optional, custom headers allowed. Its
 * tokenizer is unknown, so token-id inputs are refused; `dimensions` is forwarded for the server to judge.
 * Vectors are asked for as base64 (vLLM, llama.cpp, TEI and others support it; a server that sends
 * floats anyway is read just the same); set `options.encoding_format: float` for one that refuses it.
 */
import { numberAt, openAIStyleAdapter } from './shared.js';

export const openaiCompatibleAdapter = openAIStyleAdapter({
  id: 'openai-compatible',
  maxInputsPerCall: 2048,
  acceptsTokenInputs: false,
  dimensionsField: 'dimensions',
  checkModel: () => undefined,
  askBase64: true,
  tokens: (body) => numberAt(body, 'usage', 'prompt_tokens') ?? numberAt(body, 'usage', 'total_tokens'),
});
