/**
 * A Google service-account key: a JWT assertion signed with its private key (RS256, `jose`) is
 * exchanged at the key's `token_uri` for an OAuth access token, kept and refreshed ahead of expiry
 * (`MintedToken`). The key comes from `service_account` (the JSON text, or `${env:…}`), else the
 * file at `credentials_file`, else the gateway's GOOGLE_APPLICATION_CREDENTIALS.
 */
import { readFile } from 'node:fs/promises';
import { importPKCS8, SignJWT } from 'jose';
import type { Dispatcher } from 'undici';
import type { Connection } from '../../core/entity.js';
import { bearerFromMinted, MintedToken } from './minted-token.js';
import { fetchToken } from './token-endpoint.js';
import { CredentialError, type CredentialSource } from './types.js';

const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const ASSERTION_LIFETIME_S = 3600;

export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

export function parseServiceAccountKey(text: string, where: string): ServiceAccountKey {
  let key: Record<string, unknown>;
  try {
    key = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CredentialError(`${where} is not JSON; it must be a service-account key file as Google issues it`, true);
  }
  if (key.type !== 'service_account' || typeof key.client_email !== 'string' || typeof key.private_key !== 'string')
    throw new CredentialError(
      `${where} is not a service-account key (it needs "type": "service_account", client_email and private_key)`,
      true,
    );
  return {
    client_email: key.client_email,
    private_key: key.private_key,
    ...(typeof key.private_key_id === 'string' ? { private_key_id: key.private_key_id } : {}),
    token_uri: typeof key.token_uri === 'string' ? key.token_uri : DEFAULT_TOKEN_URI,
  };
}

/** Where the key is, as the connection and environment say; the text is read at each mint (a rotated file is seen). */
export function serviceAccountKeySource(
  connection: Connection,
  resolve: (field: string, value: string) => string,
  env: NodeJS.ProcessEnv,
): (() => Promise<{ text: string; where: string }>) | undefined {
  if (connection.service_account !== undefined)
    return async () => ({
      text: resolve('service_account', connection.service_account!),
      where: 'config.connection.service_account',
    });
  const path = connection.credentials_file ?? env.GOOGLE_APPLICATION_CREDENTIALS;
  if (!path) return undefined;
  const where = connection.credentials_file ? `credentials_file ${path}` : `GOOGLE_APPLICATION_CREDENTIALS (${path})`;
  return async () => {
    try {
      return { text: await readFile(path, 'utf8'), where };
    } catch (error) {
      throw new CredentialError(`${where} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, true);
    }
  };
}

export function googleServiceAccountSource(
  readKey: () => Promise<{ text: string; where: string }>,
  token: MintedToken | undefined,
  deps: { pool: Dispatcher; now: () => number },
): { source: CredentialSource; token: MintedToken } {
  const held: string[] = [];
  const minted =
    token ??
    new MintedToken(async (signal) => {
      const { text, where } = await readKey();
      const key = parseServiceAccountKey(text, where);
      held.splice(0, held.length, key.private_key);
      let privateKey: Awaited<ReturnType<typeof importPKCS8>>;
      try {
        privateKey = await importPKCS8(key.private_key, 'RS256');
      } catch {
        throw new CredentialError(`${where} holds a private_key that is not an RSA key in PKCS#8 PEM`, true);
      }
      const now = Math.floor(deps.now() / 1000);
      const assertion = await new SignJWT({ scope: SCOPE })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) })
        .setIssuer(key.client_email)
        .setAudience(key.token_uri)
        .setIssuedAt(now)
        .setExpirationTime(now + ASSERTION_LIFETIME_S)
        .sign(privateKey);
      return fetchToken(
        key.token_uri,
        { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
        deps.pool,
        deps.now,
        signal,
      );
    }, deps.now);
  return { source: bearerFromMinted('google-service-account', minted, () => held), token: minted };
}
