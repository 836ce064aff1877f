/** Shared by the admin routes: the admin-token check and the store's conflicts mapped to HTTP. */
import type { FastifyInstance } from 'fastify';
import { ApiError, invalidRequest } from '../../core/errors.js';
import { ADMIN_LIMITS } from '../../core/limits.js';
import { StoreConflict } from '../../store/store.js';
import { authenticateAdmin } from '../auth.js';
import type { GatewayContext } from '../context.js';

/** Registers `routes` under each prefix, behind the admin token. */
export function adminScope(
  app: FastifyInstance,
  ctx: GatewayContext,
  prefixes: string[],
  routes: (scope: FastifyInstance) => void,
): void {
  for (const prefix of prefixes) {
    void app.register(
      async (scope) => {
        // Admin bodies are entities, keys and patches: kilobytes, not the embeddings route's megabytes.
        scope.addHook('onRoute', (route) => {
          route.bodyLimit ??= ADMIN_LIMITS.maxBodyBytes;
        });
        scope.addHook('preHandler', async (req) => {
          authenticateAdmin(req.headers, (await ctx.catalogue.current()).adminTokenHash);
          checkDepth(req.body);
        });
        routes(scope);
      },
      { prefix },
    );
  }
}

/** Runs a store write, turning its conflicts into HTTP errors about `what`. */
export async function storeWrite<T>(what: string, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    throw storeError(error, what);
  }
}

export function storeError(error: unknown, what: string): unknown {
  if (!(error instanceof StoreConflict)) return error;
  switch (error.reason) {
    case 'exists':
      return invalidRequest(
        `${what} '${error.id}' already exists: choose another id, or update it with PUT/PATCH.`,
        'id',
        'duplicate_id',
      );
    case 'missing':
      return new ApiError('not_found', `${what} '${error.id}' does not exist.`, { code: 'not_found' });
    case 'stale':
      return new ApiError(
        'precondition_failed',
        `${what} '${error.id}' was changed by someone else (now at version ${error.currentVersion}). Read it again ` +
          `and retry.`,
        {
          code: 'etag_mismatch',
        },
      );
  }
}

export type Query = Record<string, string | undefined>;

/**
 * Admin bodies are stored, merged and printed by recursive code: nesting is bounded (iteratively
 * checked here, so the check itself cannot overflow the stack).
 */
export function checkDepth(body: unknown, max = ADMIN_LIMITS.maxDepth): void {
  const stack: [unknown, number][] = [[body, 0]];
  while (stack.length) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= max)
      throw invalidRequest(`The body nests JSON deeper than ${max} levels; no field needs that.`, null, 'too_deep');
    for (const child of Object.values(value))
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
}

/** A whole-number query parameter within bounds, or a 400 naming it; absent or empty gives `fallback`. */
export function queryInt(query: Query, name: string, fallback: number, min: number, max: number): number {
  const value = query[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max)
    throw invalidRequest(
      `'${name}' must be a whole number from ${min} to ${max}; got '${value}'.`,
      name,
      'invalid_value',
    );
  return parsed;
}

/** `?limit=&offset=` or the reference gateway's `?page=&pageSize=` (1-based). */
export function pageOf(query: Query): { offset: number; limit: number } {
  if (query.page !== undefined || query.pageSize !== undefined) {
    const pageSize = queryInt(query, 'pageSize', 100, 1, 1000);
    return { offset: (queryInt(query, 'page', 1, 1, 1_000_000) - 1) * pageSize, limit: pageSize };
  }
  return {
    offset: queryInt(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER),
    limit: queryInt(query, 'limit', 100, 1, 1000),
  };
}

export function notFound(what: string, id: string, hint: string): ApiError {
  return new ApiError('not_found', `${what} '${id}' does not exist. ${hint}`, { code: 'not_found' });
}
