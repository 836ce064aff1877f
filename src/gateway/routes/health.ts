import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get('/healthz', async () => ({
    status: 'ok',
    version: ctx.version,
    uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
  }));
}
