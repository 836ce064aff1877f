/** The provider registry: provider id → adapter. */
import type { EmbeddingModelEntity } from '../../core/entity.js';
import type { ProviderId } from '../../core/providers.js';
import { localAdapter } from './local.js';
import type { ProviderAdapter } from './types.js';

const ADAPTERS: Partial<Record<ProviderId, ProviderAdapter>> = {
  local: localAdapter,
};

export function adapterFor(provider: ProviderId): ProviderAdapter | undefined {
  return ADAPTERS[provider];
}

export function providerDefaultModel(entity: EmbeddingModelEntity): string {
  return adapterFor(entity.provider)?.defaultModel ?? '';
}
