/** The API-key admin API: the secret is returned once, at creation; reads never show more than `emb_…x9Fa`. */
import type { FastifyInstance } from 'fastify';
import { mergeLimits, viewOf, type ApiKeyRecord } from '../../core/api-key.js';
import { keyBody } from '../../store/keys.js';
import { StoreConflict, type StoredApiKey } from '../../store/store.js';
import { apiKeyInputSchema, apiKeyPatchSchema, parseApiKeyInput } from '../../core/api-key-schema.js';
import type { GatewayContext } from '../context.js';
import { mintApiKey } from '../keys.js';
import { adminScope, notFound, pageOf, storeError, storeWrite } from './admin-scope.js';

type IdParams = { Params: { id: string } };

export function registerAdminKeyRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const { store } = ctx;
  const load = async (id: string) => {
    const record = await store.apiKeys.get(id);
    if (!record) throw notFound('API key', id, 'List them with GET /v1/api-keys (`embctl keys list`).');
    return record;
  };
  /**
   * Read, change, write with the version read: a write that raced another is redone on the newer
   * record (a PATCH of limits never undoes a concurrent revoke; the store also keeps revocations).
   */
  const save = async (id: string, change: (current: StoredApiKey) => ApiKeyRecord) => {
    for (let attempt = 0; ; attempt++) {
      const current = await load(id);
      try {
        const saved = await store.apiKeys.replace(
          { ...change(current), updated_at: new Date().toISOString() },
          current.version,
        );
        ctx.catalogue.invalidate();
        return viewOf(saved);
      } catch (error) {
        if (!(error instanceof StoreConflict && error.reason === 'stale') || attempt >= 4)
          throw storeError(error, 'API key');
      }
    }
  };

  adminScope(app, ctx, ['/v1/api-keys'], (scope) => {
    scope.get<{ Querystring: Record<string, string | undefined> }>('/', async (req, reply) => {
      const { offset, limit } = pageOf(req.query);
      const all = await store.apiKeys.list();
      void reply.header('x-total-count', String(all.length));
      return all.slice(offset, offset + limit).map(viewOf);
    });

    scope.post('/', async (req, reply) => {
      const input = parseApiKeyInput(apiKeyInputSchema, req.body);
      const { record, secret } = await mintApiKey(store, input);
      ctx.catalogue.invalidate();
      void reply.code(201).header('location', `/v1/api-keys/${record.id}`);
      return { ...viewOf(record), secret };
    });

    // One key, with what it has used of its limits and budgets.
    scope.get<IdParams>('/:id', async (req) => ({
      ...viewOf(await load(req.params.id)),
      usage: await ctx.limiter.usage(req.params.id),
    }));

    const update = async (id: string, body: unknown) => {
      const patch = parseApiKeyInput(apiKeyPatchSchema, body);
      const { limits, ...rest } = patch;
      return save(id, (current) => {
        const merged = {
          ...keyBody(current),
          ...rest,
          metadata: patch.metadata ? (patch.metadata as Record<string, string>) : current.metadata,
        };
        const nextLimits = mergeLimits(current.limits, limits);
        if (nextLimits) merged.limits = nextLimits;
        else delete merged.limits;
        return merged;
      });
    };
    scope.patch<IdParams>('/:id', async (req) => update(req.params.id, req.body));
    scope.put<IdParams>('/:id', async (req) => update(req.params.id, parseApiKeyInput(apiKeyInputSchema, req.body)));

    scope.post<IdParams>('/:id/revoke', async (req) =>
      save(req.params.id, (current) => ({
        ...keyBody(current),
        enabled: false,
        revoked_at: current.revoked_at ?? new Date().toISOString(),
      })),
    );

    scope.delete<IdParams>('/:id', async (req) => {
      await storeWrite('API key', store.apiKeys.delete(req.params.id));
      ctx.catalogue.invalidate();
      return { deleted: true, id: req.params.id };
    });
  });
}
