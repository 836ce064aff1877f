/** OpenAI's `GET /v1/models`, listing what the caller's key may embed with, plus each model's dimensions. */
import type { FastifyInstance } from 'fastify';
import type { StoredEntity } from '../../core/entity.js';
import { ApiError } from '../../core/errors.js';
import { entityPrice } from '../../core/prices.js';
import { authenticateConsumer } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { qualifiedName, routeRequest, type KeyConstraints, type RoutableEntity } from '../router.js';

function modelObject(target: RoutableEntity) {
  const created = Date.parse((target.entity as Partial<StoredEntity>).created_at ?? '');
  return {
    id: qualifiedName(target),
    object: 'model',
    created: Number.isNaN(created) ? 0 : Math.floor(created / 1000),
    owned_by: target.entity.provider,
    entity: target.entity.id,
    model: target.defaultModel,
    dimensions: target.entity.dimensions ?? null,
    // The price Request Logs and budgets use, so that clients (the CLI's summary) quote the same.
    price_per_million_tokens: entityPrice(target.entity, target.defaultModel) ?? null,
  };
}

function allowed(catalogueRoute: () => unknown): boolean {
  try {
    catalogueRoute();
    return true;
  } catch (error) {
    if (error instanceof ApiError) return false;
    throw error;
  }
}

export function registerModelRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const visible = async (constraints: KeyConstraints) => {
    const { catalogue } = await ctx.catalogue.current();
    return catalogue.entities.filter((target) =>
      allowed(() => routeRequest(catalogue, qualifiedName(target), constraints)),
    );
  };

  app.get('/v1/models', async (req) => {
    const key = await authenticateConsumer(req.headers, ctx.catalogue);
    return { object: 'list', data: (await visible(key.constraints)).map(modelObject) };
  });

  app.get<{ Params: { '*': string } }>('/v1/models/*', async (req) => {
    const key = await authenticateConsumer(req.headers, ctx.catalogue);
    const { catalogue } = await ctx.catalogue.current();
    const route = routeRequest(catalogue, req.params['*'], key.constraints);
    return {
      ...modelObject(route.target),
      id: qualifiedName(route.target, route.model),
      model: route.model,
      price_per_million_tokens: entityPrice(route.target.entity, route.model) ?? null,
    };
  });
}
