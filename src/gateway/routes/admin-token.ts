/**
 * `POST /v1/admin-token`: a new admin token, shown once. Only its hash is stored; every gateway on
 * the store refuses the old token within the catalogue's recheck interval, with no restart.
 */
import type { FastifyInstance } from 'fastify';
import { ADMIN_TOKEN_PREFIX } from '../../core/api-key.js';
import { hashSecret, randomSecret } from '../../core/secrets.js';
import { ADMIN_TOKEN_SETTING } from '../../store/keys.js';
import { CATALOGUE_RECHECK_MS } from '../catalogue.js';
import type { GatewayContext } from '../context.js';
import { adminScope } from './admin-scope.js';

export function registerAdminTokenRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  adminScope(app, ctx, ['/v1/admin-token'], (scope) => {
    scope.post('/', async (_req, reply) => {
      const token = randomSecret(ADMIN_TOKEN_PREFIX);
      await ctx.store.settings.set(ADMIN_TOKEN_SETTING, hashSecret(token));
      ctx.catalogue.invalidate();
      void reply.code(201).header('cache-control', 'no-store');
      return {
        object: 'admin_token',
        admin_token: token,
        note: `shown once; the previous token stops working on every gateway within ${CATALOGUE_RECHECK_MS} ms`,
      };
    });
  });
}
