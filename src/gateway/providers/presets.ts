/**
 * The reference gateway's OpenAI-shaped providers (Gemini's OpenAI endpoint, Hugging Face, xAI,
 * Scaleway, …): one `openai-compatible` adapter each, from the catalogue's data (base URL and
 * path), with the token as Bearer. Their tokenizers are unknown here: token-id inputs are refused.
 * Asked for floats (the reference sends no `encoding_format`; not every one of them takes base64).
 */
import { PROVIDER_IDS, PROVIDERS, type ProviderId } from '../../core/providers.js';
import { configuredBase, numberAt, openAIStyleAdapter } from './shared.js';
import type { HttpAdapter } from './types.js';

const tokens = (body: unknown) => numberAt(body, 'usage', 'prompt_tokens') ?? numberAt(body, 'usage', 'total_tokens');

function presetAdapter(id: ProviderId, path: string): HttpAdapter {
  const adapter = openAIStyleAdapter({
    id,
    maxInputsPerCall: 2048,
    acceptsTokenInputs: false,
    dimensionsField: 'dimensions',
    checkModel: () => undefined,
    forwardsEncoding: false,
    tokens,
    path,
  });
  if (id !== 'azure-ai-foundry') return adapter;
  // Its default is a placeholder in the reference: the resource's name fills it in.
  return {
    ...adapter,
    baseUrl: (connection) =>
      configuredBase(connection) ??
      (connection.resource_name ? `https://${connection.resource_name}.services.ai.azure.com/models` : undefined),
  };
}

export const PRESET_ADAPTERS = Object.fromEntries(
  PROVIDER_IDS.flatMap((id) => {
    const preset = PROVIDERS[id].preset;
    return preset ? [[id, presetAdapter(id, preset.path)]] : [];
  }),
) as Partial<Record<ProviderId, HttpAdapter>>;
