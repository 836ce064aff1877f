import type { FastifyInstance } from 'fastify';
import { unusableReason } from '../../core/api-key.js';
import type { GatewayContext } from '../context.js';
import { adminScope } from './admin-scope.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get('/healthz', async () => ({
    status: 'ok',
    version: ctx.version,
    uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
  }));

  /** What `embctl gateway status` shows: version, uptime, store, and what the catalogue holds. */
  adminScope(app, ctx, ['/v1/status'], (scope) => {
    scope.get('/', async () => {
      const [entities, keys] = await Promise.all([ctx.store.entities.list(), ctx.store.apiKeys.list()]);
      return {
        version: ctx.version,
        uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
        started_at: new Date(ctx.startedAt).toISOString(),
        store: { kind: ctx.store.kind, location: ctx.store.location },
        entities: { total: entities.length, enabled: entities.filter((e) => e.enabled).length },
        keys: { total: keys.length, active: keys.filter((k) => !unusableReason(k)).length },
        pid: process.pid,
      };
    });
  });
}
