/** Who is calling: a consumer API key on `/v1/embeddings` and `/v1/models`, the admin token on admin routes. */
import { ADMIN_TOKEN_PREFIX, unusableReason } from '../core/api-key.js';
import { ApiError } from '../core/errors.js';
import { hashSecret, secretMatchesHash } from '../core/secrets.js';
import type { CatalogueCache, KnownKey } from './catalogue.js';

type Headers = Record<string, string | string[] | undefined>;

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const BASIC = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i;

export function bearerToken(headers: Headers): string | undefined {
  const header = headers.authorization;
  return typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
}

const unauthenticated = (message: string, code: string) => new ApiError('authentication', message, { code });

export async function authenticateConsumer(headers: Headers, cache: CatalogueCache): Promise<KnownKey> {
  const token = bearerToken(headers);
  if (!token) {
    throw unauthenticated(
      "Missing API key: send it as 'Authorization: Bearer <key>'. `embctl keys create` makes one; the first start " +
        'printed one.',
      'missing_api_key',
    );
  }
  if (token.startsWith(ADMIN_TOKEN_PREFIX)) {
    throw unauthenticated(
      'The admin token is not an API key: call /v1/embeddings with an API key (`embctl keys create`).',
      'invalid_api_key',
    );
  }
  // The hash is the map key: the lookup compares digests, never the secret itself.
  const known = (await cache.current()).keysByHash.get(hashSecret(token));
  if (!known)
    throw unauthenticated(
      'Incorrect API key provided. Check the key, or create one with `embctl keys create`.',
      'invalid_api_key',
    );
  const reason = unusableReason(known.record);
  if (reason)
    throw unauthenticated(
      `The API key '${known.record.name}' (${known.record.redacted}) ${reason}.`,
      'invalid_api_key',
    );
  return known;
}

function basicPassword(headers: Headers): string | undefined {
  const header = headers.authorization;
  const encoded = typeof header === 'string' ? BASIC.exec(header)?.[1] : undefined;
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return decoded;
  // Clients of the reference gateway send `client_id:client_secret`: the secret is the token,
  // or, with an empty secret, the id is.
  const secret = decoded.slice(colon + 1);
  return secret === '' ? decoded.slice(0, colon) : secret;
}

/** The reference gateway's client credential headers: the secret is the token, or, with none, the id is. */
function otoroshiClientSecret(headers: Headers): string | undefined {
  const secret = headers['otoroshi-client-secret'];
  const id = headers['otoroshi-client-id'];
  if (typeof secret === 'string' && secret !== '') return secret;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

export function authenticateAdmin(headers: Headers, adminTokenHash: string): void {
  const presented = bearerToken(headers) ?? basicPassword(headers) ?? otoroshiClientSecret(headers);
  if (!presented) {
    throw unauthenticated(
      "Admin routes need the admin token: 'Authorization: Bearer <admin token>' (or HTTP Basic with it as the " +
        "password, or the reference gateway's Otoroshi-Client-Secret header).",
      'missing_admin_token',
    );
  }
  if (secretMatchesHash(presented, adminTokenHash)) return;
  if (!presented.startsWith(ADMIN_TOKEN_PREFIX) && presented.startsWith('emb_')) {
    throw new ApiError(
      'permission',
      'An API key cannot call admin routes: use the admin token (profile field adminToken, or EMBCTL_ADMIN_TOKEN).',
      {
        code: 'admin_token_required',
      },
    );
  }
  throw unauthenticated('Incorrect admin token.', 'invalid_admin_token');
}
