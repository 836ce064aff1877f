/**
 * The embedding cache over the admin API: `GET /v1/cache` (what the store holds per entity, this
 * gateway's memory and counters, the last day's hit rate and savings from the Request Logs) and
 * `DELETE /v1/cache` (every entry, or one entity's, on every gateway sharing the store).
 */
import type { FastifyInstance } from 'fastify';
import type { CacheUsage } from '../../store/store.js';
import type { GatewayContext } from '../context.js';
import type { Catalogue } from '../router.js';
import { adminScope, notFound, type Query } from './admin-scope.js';

const DAY_MS = 86_400_000;

export function registerCacheRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  /** The `entity` asked for, checked against the catalogue the answer is built from. */
  const entityOf = (query: Query, catalogue: Catalogue) => {
    const id = query.entity;
    if (id === undefined) return undefined;
    if (!catalogue.entities.some((r) => r.entity.id === id))
      throw notFound('Embedding model', id, 'Run `embctl models list` for the ids.');
    return id;
  };

  adminScope(app, ctx, ['/v1/cache'], (scope) => {
    scope.get<{ Querystring: Query }>('/', async (req) => {
      const { catalogue } = await ctx.catalogue.current();
      const entityId = entityOf(req.query, catalogue);
      await Promise.all([ctx.cache.flush(), ctx.logs.flush()]);
      const [stored, day] = await Promise.all([
        ctx.store.cache.stats(entityId),
        ctx.store.logs.usage({ since: Date.now() - DAY_MS, ...(entityId ? { entity: [entityId] } : {}) }, []),
      ]);
      const usageOf = new Map<string, CacheUsage>(stored.map((u) => [u.entity_id, u]));
      const entities = catalogue.entities
        .map((r) => r.entity)
        .filter((e) => (entityId ? e.id === entityId : e.cache !== undefined || usageOf.has(e.id)))
        .map((e) => ({
          entity_id: e.id,
          enabled: e.cache?.enabled ?? false,
          scope: e.cache?.scope ?? null,
          ttl_s: e.cache?.ttl_s ?? null,
          entries: usageOf.get(e.id)?.entries ?? 0,
          bytes: usageOf.get(e.id)?.bytes ?? 0,
        }));
      const last = day[0];
      const { bounds, memoryBytes } = ctx.cache.settings;
      return {
        object: 'cache',
        entities,
        totals: {
          entries: stored.reduce((n, u) => n + u.entries, 0),
          bytes: stored.reduce((n, u) => n + u.bytes, 0),
        },
        bounds: { max_entries: bounds.maxEntries, max_bytes: bounds.maxBytes, memory_bytes: memoryBytes },
        last_24h: {
          inputs: last?.inputs ?? 0,
          cached_inputs: last?.cached_inputs ?? 0,
          hit_rate: last?.inputs ? last.cached_inputs / last.inputs : 0,
          tokens_saved: last?.cached_tokens ?? 0,
          cost_saved_usd: last?.cost_saved_usd ?? 0,
        },
        this_gateway: {
          instance: ctx.instance,
          memory_entries: ctx.cache.memoryEntries,
          memory_bytes: ctx.cache.memoryBytes,
          ...ctx.cache.counters,
        },
      };
    });

    scope.delete<{ Querystring: Query }>('/', async (req) => {
      const entityId = entityOf(req.query, (await ctx.catalogue.current()).catalogue);
      await ctx.cache.flush();
      const deleted = await ctx.store.cache.clear(entityId);
      // The clear moved the store's cache epoch: this gateway's memory goes at its next request,
      // the others' at their next catalogue check.
      ctx.catalogue.invalidate();
      return { object: 'cache.cleared', entity_id: entityId ?? null, deleted };
    });
  });
}
