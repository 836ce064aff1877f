/** Rules and names every store applies alike, whatever its engine. */
import type { ApiKeyRecord } from '../core/api-key.js';
import type { StoredApiKey } from './store.js';

/** Reports of gateways not seen for this long are deleted. */
export const INSTANCE_KEEP_MS = 86_400_000;

/** The setting that holds the SHA-256 of the admin token. */
export const ADMIN_TOKEN_SETTING = 'admin_token_hash';

/** A revoked key stays revoked: a write racing (or following) the revoke cannot bring it back. */
export function keepRevocation(next: ApiKeyRecord, stored: ApiKeyRecord): ApiKeyRecord {
  if (!stored.revoked_at) return next;
  return { ...next, enabled: false, revoked_at: stored.revoked_at };
}

/** The JSON document stored for a key: the record without the store-managed version. */
export function keyBody(record: ApiKeyRecord | StoredApiKey): ApiKeyRecord {
  const { version, ...body } = record as StoredApiKey;
  return body;
}
