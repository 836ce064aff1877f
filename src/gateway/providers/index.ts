/** The provider registry: provider id → adapter. */
import type { EmbeddingModelEntity } from '../../core/entity.js';
import type { ProviderId } from '../../core/providers.js';
import { azureOpenaiAdapter } from './azure-openai.js';
import { cohereAdapter } from './cohere.js';
import { geminiAdapter } from './gemini.js';
import { jinaAdapter } from './jina.js';
import { localAdapter } from './local.js';
import { mistralAdapter } from './mistral.js';
import { ollamaAdapter } from './ollama.js';
import { openaiCompatibleAdapter } from './openai-compatible.js';
import { openaiAdapter } from './openai.js';
import { teiAdapter } from './tei.js';
import type { ProviderAdapter } from './types.js';
import { voyageAdapter } from './voyage.js';

const ADAPTERS: Record<ProviderId, ProviderAdapter> = {
  local: localAdapter,
  openai: openaiAdapter,
  'azure-openai': azureOpenaiAdapter,
  'openai-compatible': openaiCompatibleAdapter,
  ollama: ollamaAdapter,
  mistral: mistralAdapter,
  cohere: cohereAdapter,
  gemini: geminiAdapter,
  voyage: voyageAdapter,
  jina: jinaAdapter,
  'huggingface-tei': teiAdapter,
};

export function adapterFor(provider: ProviderId): ProviderAdapter {
  return ADAPTERS[provider];
}

export function providerDefaultModel(entity: EmbeddingModelEntity): string {
  return adapterFor(entity.provider).defaultModel;
}
