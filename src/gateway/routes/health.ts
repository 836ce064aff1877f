import type { FastifyInstance } from 'fastify';
import { unusableReason } from '../../core/api-key.js';
import type { GatewayContext } from '../context.js';
import { adminScope } from './admin-scope.js';
import { INSTANCE_SEEN_WINDOW_MS } from '../instances.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get('/healthz', async () => ({
    status: 'ok',
    version: ctx.version,
    uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
  }));

  /**
   * For load balancers and rolling restarts: 503 while draining (after SIGTERM) or while the store
   * does not answer; /healthz stays 200 as long as the process serves at all.
   */
  app.get('/readyz', async (_req, reply) => {
    await ctx.catalogue.current();
    const reason = ctx.closing ? 'draining' : ctx.catalogue.storeReachable ? undefined : 'store_unreachable';
    if (reason) void reply.code(503).header('retry-after', '1');
    return { status: reason ? 'unready' : 'ready', ...(reason ? { reason } : {}), instance: ctx.instance };
  });

  /** What `embctl gateway status` shows: version, uptime, store, and what the catalogue holds. */
  adminScope(app, ctx, ['/v1/status'], (scope) => {
    scope.get('/', async () => {
      const now = Date.now();
      const [entities, keys, instances] = await Promise.all([
        ctx.store.entities.list(),
        ctx.store.apiKeys.list(),
        ctx.store.instances.recent(now - INSTANCE_SEEN_WINDOW_MS),
      ]);
      return {
        version: ctx.version,
        uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
        started_at: new Date(ctx.startedAt).toISOString(),
        store: {
          kind: ctx.store.kind,
          location: ctx.store.location,
          schema_version: ctx.store.schemaVersion,
          reachable: ctx.catalogue.storeReachable,
        },
        instance: ctx.instance,
        // Every gateway on this store that reported itself in the last 30 s, this one included.
        instances: instances.map((i) => ({
          instance: i.instance,
          version: i.version,
          pid: i.pid,
          started_at: new Date(i.started_at).toISOString(),
          seen_s_ago: Math.round((now - i.seen_at) / 1000),
        })),
        entities: { total: entities.length, enabled: entities.filter((e) => e.enabled).length },
        keys: { total: keys.length, active: keys.filter((k) => !unusableReason(k)).length },
        pid: process.pid,
      };
    });
  });
}
