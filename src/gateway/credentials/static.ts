/**
 * Today's credentials: a token (comma-separated tokens rotate round-robin per entity) and, for
 * Azure, an `api_key`, presented in the provider's own header. `{api_key}` and `{token}` in a
 * configured header value are replaced by the token, as in the reference gateway.
 */
import type { EmbeddingModelEntity } from '../../core/entity.js';
import type { HttpAdapter, StaticKeys } from '../providers/types.js';
import type { CredentialSource } from './types.js';

const TEMPLATE = /\{(?:api_key|token)\}/g;
const HAS_TEMPLATE = /\{(?:api_key|token)\}/;

export function staticSource(
  adapter: HttpAdapter,
  entity: EmbeddingModelEntity,
  resolve: (field: string, value: string) => string,
  turn: () => number,
  secrets: () => readonly string[],
): CredentialSource {
  const { connection } = entity.config;
  const split = (field: string, value: string | undefined) =>
    value === undefined
      ? []
      : resolve(field, value)
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
  // Resolved at every call: `${env:…}` follows the environment, and rotation moves on.
  const keysForCall = (): StaticKeys => {
    const tokens = split('token', connection.token);
    const apiKeys = split('api_key', connection.api_key);
    const pick = (list: string[]) => (list.length <= 1 ? list[0] : list[turn() % list.length]);
    if (adapter.presentKeys) return { token: pick(tokens), apiKey: pick(apiKeys) };
    return { token: pick(tokens.length ? tokens : apiKeys) };
  };
  const configured = connection.headers ?? {};
  const templated = Object.entries(configured).some(([, v]) => HAS_TEMPLATE.test(v));
  const setsAuthorization = Object.keys(configured).some((k) => k.toLowerCase() === 'authorization');
  return {
    kind: connection.token || connection.api_key ? 'static' : 'none',
    authorize(request) {
      const keys = keysForCall();
      const presented = adapter.presentKeys
        ? adapter.presentKeys(keys)
        : templated || setsAuthorization || !keys.token
          ? {}
          : { authorization: `Bearer ${keys.token}` };
      const headers = templated
        ? Object.fromEntries(
            Object.entries(configured).map(([k, v]) => [k, v.replace(TEMPLATE, keys.token ?? keys.apiKey ?? '')]),
          )
        : configured;
      return { ...request, headers: { ...request.headers, ...presented, ...headers } };
    },
    secrets,
  };
}
