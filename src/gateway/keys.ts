/** Minting API keys: the one place a secret exists in clear, before only its hash is stored. */
import { API_KEY_PREFIX, mergeLimits, type ApiKeyRecord } from '../core/api-key.js';
import type { ApiKeyInput } from '../core/api-key-schema.js';
import { hashSecret, randomId, randomSecret, redactSecret } from '../core/secrets.js';
import type { Store } from '../store/store.js';

/** A new key's record and its secret, not yet stored. */
export function newApiKey(input: ApiKeyInput): { record: ApiKeyRecord; secret: string } {
  const secret = randomSecret(API_KEY_PREFIX);
  const now = new Date().toISOString();
  const record: ApiKeyRecord = {
    id: randomId('key_'),
    name: input.name,
    hash: hashSecret(secret),
    redacted: redactSecret(secret),
    enabled: input.enabled,
    expires_at: input.expires_at,
    revoked_at: null,
    metadata: input.metadata as Record<string, string>,
    ...(mergeLimits(undefined, input.limits) ? { limits: mergeLimits(undefined, input.limits)! } : {}),
    created_at: now,
    updated_at: now,
  };
  return { record, secret };
}

export async function mintApiKey(store: Store, input: ApiKeyInput): Promise<{ record: ApiKeyRecord; secret: string }> {
  const minted = newApiKey(input);
  return { record: await store.apiKeys.create(minted.record), secret: minted.secret };
}
