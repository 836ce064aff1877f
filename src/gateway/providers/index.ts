/** The provider registry: provider id → adapter. */
import type { EmbeddingModelEntity } from '../../core/entity.js';
import type { ProviderId } from '../../core/providers.js';
import { azureOpenaiAdapter } from './azure-openai.js';
import { bedrockAdapter } from './bedrock.js';
import { cohereAdapter } from './cohere.js';
import { geminiNativeAdapter } from './gemini-native.js';
import { jinaAdapter } from './jina.js';
import { localAdapter } from './local.js';
import { mistralAdapter } from './mistral.js';
import { ollamaAdapter } from './ollama.js';
import { openaiCompatibleAdapter } from './openai-compatible.js';
import { openaiAdapter } from './openai.js';
import { PRESET_ADAPTERS } from './presets.js';
import { teiAdapter } from './tei.js';
import type { ProviderAdapter } from './types.js';
import { vertexAiAdapter } from './vertex-ai.js';
import { voyageAdapter } from './voyage.js';

const ADAPTERS = {
  ...PRESET_ADAPTERS,
  local: localAdapter,
  openai: openaiAdapter,
  'azure-openai': azureOpenaiAdapter,
  'openai-compatible': openaiCompatibleAdapter,
  ollama: ollamaAdapter,
  mistral: mistralAdapter,
  cohere: cohereAdapter,
  'gemini-native': geminiNativeAdapter,
  voyage: voyageAdapter,
  jina: jinaAdapter,
  'huggingface-tei': teiAdapter,
  bedrock: bedrockAdapter,
  'vertex-ai': vertexAiAdapter,
} as Record<ProviderId, ProviderAdapter>;

export function adapterFor(provider: ProviderId): ProviderAdapter {
  return ADAPTERS[provider];
}

export function providerDefaultModel(entity: EmbeddingModelEntity): string {
  const adapter = adapterFor(entity.provider);
  return (adapter.kind === 'http' && adapter.defaultModelFor?.(entity.config.connection)) || adapter.defaultModel;
}
