/**
 * What makes two embedding inputs the same cache entry: the entity, a fingerprint of everything
 * that changes the vector, the key when entries are kept per key, and the exact input. Pure, so the
 * rules are unit-tested apart from any store.
 */
import { createHash } from 'node:crypto';
import type { EmbeddingInput } from './embeddings-request.js';
import type { EmbeddingModelEntity } from './entity.js';
import { invalidRequest } from './errors.js';

/** JSON with object keys sorted: the same options in another order are the same fingerprint. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * SHA-256 (hex) of what the vector depends on: provider, where it is called, the upstream model, the
 * options forwarded (input types, tasks, truncation…), the non-secret headers and `dimensions`.
 * Credentials are left out on purpose: rotating a token does not change a vector.
 */
export function cacheFingerprint(entity: EmbeddingModelEntity, upstreamModel: string, dimensions?: number): string {
  const { connection, options } = entity.config;
  const publicHeaders = Object.fromEntries(
    (connection.public_headers ?? []).map((name) => [name.toLowerCase(), connection.headers?.[name]]),
  );
  return createHash('sha256')
    .update(
      canonical({
        provider: entity.provider,
        base_url: connection.base_url,
        resource_name: connection.resource_name,
        deployment_id: connection.deployment_id,
        api_version: connection.api_version,
        model: upstreamModel,
        options: { ...options, model: undefined },
        headers: publicHeaders,
        dimensions,
      }),
    )
    .digest('hex');
}

/** `null` for entries shared by every key of the entity. */
export type CacheOwner = string | null;

/**
 * The entry keys of one entity, fingerprint and owner: each a SHA-256 (hex) over those and the
 * exact input. The parts before the input are length-prefixed, so that no two different tuples hash
 * the same bytes, and computed once per call; texts and token arrays never collide (a kind letter
 * tells them apart).
 */
export function cacheKeyer(
  entityId: string,
  fingerprint: string,
  owner: CacheOwner,
): (input: EmbeddingInput) => string {
  const part = (text: string) => `${Buffer.byteLength(text)}:${text}`;
  const prefix = part(entityId) + part(fingerprint) + part(owner === null ? '' : `key:${owner}`);
  return (input) =>
    createHash('sha256')
      .update(typeof input === 'string' ? `${prefix}t${input}` : `${prefix}i${input.join(',')}`)
      .digest('hex');
}

/** One entry's key (see `cacheKeyer`). */
export function cacheEntryKey(entityId: string, fingerprint: string, owner: CacheOwner, input: EmbeddingInput): string {
  return cacheKeyer(entityId, fingerprint, owner)(input);
}

/**
 * Splits `total` tokens over inputs in proportion to `weights` (their tokenizer counts), in whole
 * tokens that sum to `total` exactly (largest remainder): a request replayed from the cache reports
 * what the upstream reported for it.
 */
export function apportionTokens(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (sum === 0 ? total / weights.length : (total * w) / sum));
  const shares = exact.map(Math.floor);
  let left = total - shares.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let j = 0; left > 0; j = (j + 1) % order.length, left--) shares[order[j]![1]]!++;
  return shares;
}

/** `x-embctl-cache` on a request: `skip` (neither read nor written) or `refresh` (not read, written). */
export type CacheDirective = 'use' | 'skip' | 'refresh';

export const CACHE_HEADER = 'x-embctl-cache';

export function parseCacheDirective(value: string | string[] | undefined): CacheDirective {
  if (value === undefined) return 'use';
  const text = (Array.isArray(value) ? value.join(',') : value).trim().toLowerCase();
  if (text === 'skip' || text === 'refresh') return text;
  throw invalidRequest(
    `The ${CACHE_HEADER} header is '${text.slice(0, 40)}'; it takes 'skip' (bypass the cache) or 'refresh' ` +
      '(embed again and replace the entries). Leave it out to use the cache.',
    CACHE_HEADER,
    'invalid_cache_directive',
  );
}
