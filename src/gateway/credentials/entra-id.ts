/**
 * Microsoft Entra ID client credentials (a service principal): `client_id` and `client_secret`
 * exchanged at `{authority_host}/{tenant_id}/oauth2/v2.0/token` for a token of `scope` (Azure
 * OpenAI's `https://cognitiveservices.azure.com/.default` unless set), sent as Bearer.
 */
import type { Dispatcher } from 'undici';
import type { Connection } from '../../core/entity.js';
import { bearerFromMinted, MintedToken } from './minted-token.js';
import { fetchToken } from './token-endpoint.js';
import { CredentialError, type CredentialSource } from './types.js';

const AUTHORITY = 'https://login.microsoftonline.com';
const COGNITIVE_SERVICES = 'https://cognitiveservices.azure.com/.default';

export function usesEntraId(connection: Connection): boolean {
  return connection.tenant_id !== undefined || connection.client_id !== undefined;
}

export function entraIdSource(
  connection: Connection,
  resolve: (field: string, value: string) => string,
  token: MintedToken | undefined,
  deps: { pool: Dispatcher; now: () => number },
): { source: CredentialSource; token: MintedToken } {
  const held: string[] = [];
  const minted =
    token ??
    new MintedToken((signal) => {
      const { tenant_id: tenant, client_id: clientId, client_secret: secret } = connection;
      if (!tenant || !clientId || !secret)
        throw new CredentialError(
          'Entra ID needs config.connection.tenant_id, client_id and client_secret together',
          true,
        );
      const clientSecret = resolve('client_secret', secret);
      held.splice(0, held.length, clientSecret);
      const authority = (connection.authority_host ?? AUTHORITY).replace(/\/+$/, '');
      return fetchToken(
        `${authority}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`,
        {
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: clientSecret,
          scope: connection.scope ?? COGNITIVE_SERVICES,
        },
        deps.pool,
        deps.now,
        signal,
      );
    }, deps.now);
  return { source: bearerFromMinted('entra-id', minted, () => held), token: minted };
}
