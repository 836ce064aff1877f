/**
 * First start on an empty data dir: one enabled `local` entity, an admin token and one API key, so
 * that the gateway is usable with no set-up. The secrets exist in clear only in the returned value,
 * which the caller hands to the CLI's `local` profile and prints once.
 */
import { ADMIN_TOKEN_PREFIX } from '../core/api-key.js';
import type { EmbeddingModelEntity } from '../core/entity.js';
import { hashSecret, randomSecret } from '../core/secrets.js';
import type { Store } from '../store/store.js';
import { newApiKey } from './keys.js';
import { ADMIN_TOKEN_SETTING } from '../store/keys.js';
import { LOCAL_DEFAULT_DIMENSIONS } from './providers/local.js';

export { ADMIN_TOKEN_SETTING };

export interface BootstrapSecrets {
  adminToken: string;
  apiKey: string;
  /** The model the seeded entity serves, as a request names it. */
  model: string;
}

export const SEED_ENTITY: EmbeddingModelEntity = {
  id: 'local',
  name: 'local',
  description: 'Built-in offline embeddings (lexical feature hashing, not a neural model)',
  provider: 'local',
  config: { connection: { timeout: 180_000 }, options: { model: `hash-${LOCAL_DEFAULT_DIMENSIONS}-v1` } },
  models: { include: [], exclude: [] },
  enabled: true,
  dimensions: LOCAL_DEFAULT_DIMENSIONS,
  pricing: { input_per_million_tokens: 0, currency: 'USD' },
  metadata: {},
  tags: ['builtin'],
};

/**
 * Returns the secrets when this call initialised the store, undefined when it was already set up.
 * `adminToken`, when given, replaces the stored admin token (so an operator can set their own).
 */
export async function bootstrapStore(store: Store, adminToken?: string): Promise<BootstrapSecrets | undefined> {
  const existing = await store.settings.get(ADMIN_TOKEN_SETTING);
  if (existing) {
    if (adminToken) await store.settings.set(ADMIN_TOKEN_SETTING, hashSecret(adminToken));
    return undefined;
  }
  const token = adminToken ?? randomSecret(ADMIN_TOKEN_PREFIX);
  const { record, secret } = newApiKey({ name: 'default', enabled: true, expires_at: null, metadata: {} });
  // One transaction: of gateways starting together on an empty store, exactly one seeds it.
  if (!(await store.bootstrap({ entity: SEED_ENTITY, apiKey: record, adminTokenHash: hashSecret(token) }))) {
    if (adminToken) await store.settings.set(ADMIN_TOKEN_SETTING, hashSecret(adminToken));
    return undefined;
  }
  return { adminToken: token, apiKey: secret, model: `${SEED_ENTITY.id}/${SEED_ENTITY.config.options.model}` };
}
