/**
 * The embedding-model admin API, under `/v1/embedding-models` and the reference gateway's path, so
 * that its clients work unchanged. Every read is redacted; every write validated, atomic, and
 * guarded by `If-Match` when given.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  SECRET_FIELDS,
  isSecretHeader,
  redactEntity,
  keepRedactedSecrets,
  slugify,
  type EmbeddingModelEntity,
  type StoredEntity,
} from '../../core/entity.js';
import { envReferenceRefusal } from '../../core/secrets.js';
import { parseEntityOrThrow } from '../../core/entity-schema.js';
import { invalidRequest } from '../../core/errors.js';
import { applyJsonPatch } from '../../core/json-patch.js';
import { mergePatch } from '../../core/merge-patch.js';
import { entityTemplate } from '../../core/entity-template.js';
import { listPrice } from '../../core/prices.js';
import { randomId } from '../../core/secrets.js';
import type { GatewayContext } from '../context.js';
import { etagOf, expectedVersion } from '../etag.js';
import { adapterFor } from '../providers/index.js';
import { adminScope, notFound, pageOf, storeWrite, type Query } from './admin-scope.js';

export const ENTITY_PREFIXES = [
  '/v1/embedding-models',
  '/apis/ai-gateway.extensions.cloud-apim.com/v1/embedding-models',
];

type IdParams = { Params: { id: string } };

function view(stored: StoredEntity) {
  const { version, ...rest } = redactEntity(stored);
  return rest;
}

function send(reply: FastifyReply, stored: StoredEntity) {
  void reply.header('etag', etagOf(stored.version));
  return view(stored);
}

/** A new entity without a price gets the list price of its model, when known. */
function withListPrice(entity: EmbeddingModelEntity): EmbeddingModelEntity {
  if (entity.pricing) return entity;
  const price = listPrice(entity.config.options.model ?? adapterFor(entity.provider).defaultModel);
  return price === undefined ? entity : { ...entity, pricing: { input_per_million_tokens: price, currency: 'USD' } };
}

function withGeneratedId(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || 'id' in body) return body;
  const name = (body as { name?: unknown }).name;
  return { ...body, id: (typeof name === 'string' && slugify(name)) || randomId('model_') };
}

/** Where an entity's credentials are sent: the upstream, and the token endpoint that client secrets go to. */
const destinationOf = (e: EmbeddingModelEntity) => {
  const c = e.config.connection;
  const parts = [
    `${e.provider} ${c.base_url ?? c.base_domain ?? '(default URL)'}`,
    c.resource_name && `resource ${c.resource_name}`,
    c.region && `region ${c.region}`,
    c.authority_host && `token endpoint ${c.authority_host}`,
  ];
  return parts.filter(Boolean).join(' ');
};

const CREDENTIAL_FIELDS = Object.keys(SECRET_FIELDS) as (keyof typeof SECRET_FIELDS)[];

/** The credential fields a request body's `config.connection` states itself (not a redacted read). */
function statedCredentials(body: unknown): { fields: Set<string>; headers: Set<string> } {
  const connection = (body as { config?: { connection?: Record<string, unknown> } } | null)?.config?.connection;
  const stated = (v: unknown) => typeof v === 'string' && !v.includes('…');
  const fields = new Set<string>(CREDENTIAL_FIELDS.filter((f) => stated(connection?.[f])));
  const headers =
    connection?.headers && typeof connection.headers === 'object'
      ? (connection.headers as Record<string, unknown>)
      : {};
  return { fields, headers: new Set(Object.keys(headers).filter((h) => stated(headers[h]))) };
}

/**
 * A stored credential goes only where it was configured to go: a write that moves an entity to
 * another provider, URL or Azure resource must restate its credentials (or say it means to keep
 * them), or an admin typo, or a stolen admin token, sends the provider key to any host.
 */
function checkCredentialMove(current: StoredEntity, next: EmbeddingModelEntity, body: unknown, keep: boolean): void {
  if (keep || destinationOf(current) === destinationOf(next)) return;
  const stated = statedCredentials(body);
  const before = current.config.connection;
  const after = next.config.connection;
  const carried = CREDENTIAL_FIELDS.filter(
    (f) => after[f] !== undefined && after[f] === before[f] && !stated.fields.has(f),
  ).map((f) => `config.connection.${f}`);
  for (const [name, value] of Object.entries(after.headers ?? {})) {
    if (isSecretHeader(after, name) && before.headers?.[name] === value && !stated.headers.has(name))
      carried.push(`config.connection.headers.${name}`);
  }
  if (carried.length === 0) return;
  throw invalidRequest(
    `This write moves '${current.id}' from ${destinationOf(current)} to ${destinationOf(next)} and would send its ` +
      `stored ${carried.join(', ')} there. Restate the credential in the same write (\`embctl models update ` +
      `${current.id} --token …\`), or add ?keep_credentials=true (\`--keep-credentials\`) to send the stored one.`,
    carried[0]!,
    'credential_destination_changed',
  );
}

/** `${env:NAME}` references outside the gateway's allow-list are refused at write time, not at the first call. */
function checkEnvReferences(entity: EmbeddingModelEntity, allow: GatewayContext['allowEnv']): void {
  const c = entity.config.connection;
  const fields: [string, string | undefined][] = [
    ...CREDENTIAL_FIELDS.map((field): [string, string | undefined] => [field, c[field]]),
    ...Object.entries(c.headers ?? {}).map(([k, v]): [string, string] => [`headers.${k}`, v]),
  ];
  for (const [field, value] of fields) {
    const refusal = value === undefined ? undefined : envReferenceRefusal(value, allow);
    if (refusal)
      throw invalidRequest(
        `'config.connection.${field}': ${refusal}.`,
        `config.connection.${field}`,
        'env_reference_not_allowed',
      );
  }
}

function matchesFilters(entity: StoredEntity, query: Record<string, string | undefined>): boolean {
  if (query.provider && entity.provider !== query.provider) return false;
  if (query.enabled !== undefined && String(entity.enabled) !== query.enabled) return false;
  if (query.tag && !entity.tags.includes(query.tag)) return false;
  return true;
}

export function registerAdminModelRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const { store } = ctx;
  const load = async (id: string) => {
    const stored = await store.entities.get(id);
    if (!stored)
      throw notFound('Embedding model', id, 'List them with GET /v1/embedding-models (`embctl models list`).');
    return stored;
  };
  const written = <T>(result: T): T => {
    ctx.catalogue.invalidate();
    return result;
  };

  adminScope(app, ctx, ENTITY_PREFIXES, (scope) => {
    scope.get<{ Querystring: Record<string, string | undefined> }>('/', async (req, reply) => {
      if (req.query.enabled !== undefined && req.query.enabled !== 'true' && req.query.enabled !== 'false') {
        throw invalidRequest(
          `'enabled' must be true or false; got '${req.query.enabled}'.`,
          'enabled',
          'invalid_value',
        );
      }
      const { offset, limit } = pageOf(req.query);
      const all = (await store.entities.list()).filter((e) => matchesFilters(e, req.query));
      void reply.header('x-total-count', String(all.length));
      return all.slice(offset, offset + limit).map(view);
    });

    scope.post('/', async (req, reply) => {
      const entity = withListPrice(parseEntityOrThrow(withGeneratedId(req.body)));
      checkEnvReferences(entity, ctx.allowEnv);
      const stored = written(await storeWrite('Embedding model', store.entities.create(entity)));
      void reply.code(201).header('location', `${req.url.replace(/\/?(\?.*)?$/, '')}/${encodeURIComponent(stored.id)}`);
      return send(reply, stored);
    });

    scope.get<{ Querystring: { kind?: string } }>('/_template', async (req) => entityTemplate(req.query.kind));

    scope.get<IdParams>('/:id', async (req, reply) => send(reply, await load(req.params.id)));

    // Proves an entity's credentials without spending tokens (mints, or signs): `embctl doctor` asks this.
    scope.post<IdParams>('/:id/check', async (req) => {
      const stored = await load(req.params.id);
      const adapter = adapterFor(stored.provider);
      const base = { id: stored.id, provider: stored.provider };
      if (stored.unreadable) return { ...base, credential: 'unreadable', ok: false, detail: stored.unreadable };
      if (adapter.kind === 'in-process')
        return { ...base, credential: 'none', ok: true, detail: 'computed in the gateway' };
      const { kind, ...result } = await ctx.credentials.check(stored, adapter);
      return { ...base, credential: kind, ...result };
    });

    const replace = async (
      req: FastifyRequest<IdParams & { Querystring: Query }>,
      next: (current: StoredEntity) => unknown,
      reply: FastifyReply,
    ) => {
      const id = req.params.id;
      const ifMatch = req.headers['if-match'];
      const current = await load(id);
      const version = expectedVersion(ifMatch, current.version);
      const candidate = next(current);
      if (
        candidate !== null &&
        typeof candidate === 'object' &&
        'id' in candidate &&
        (candidate as { id: unknown }).id !== id
      ) {
        throw invalidRequest(
          `The body's id '${String((candidate as { id: unknown }).id)}' differs from the URL's '${id}'; ids cannot ` +
            `be changed.`,
          'id',
          'id_mismatch',
        );
      }
      const entity = withListPrice(keepRedactedSecrets(parseEntityOrThrow({ ...(candidate as object), id }), current));
      checkEnvReferences(entity, ctx.allowEnv);
      checkCredentialMove(current, entity, req.body, req.query.keep_credentials === 'true');
      const stored = written(
        await storeWrite('Embedding model', store.entities.replace(id, entity, version ?? current.version)),
      );
      return send(reply, stored);
    };

    scope.put<IdParams & { Querystring: Query }>('/:id', async (req, reply) => replace(req, () => req.body, reply));

    scope.patch<IdParams & { Querystring: Query }>('/:id', async (req, reply) => {
      const body = req.body;
      if (body === null || typeof body !== 'object') {
        throw invalidRequest(
          'A PATCH body must be a JSON object (JSON Merge Patch: null deletes a field) or an array of JSON Patch ' +
            'operations (as the reference gateway takes them).',
          null,
          'invalid_body',
        );
      }
      return replace(
        req,
        (current) => {
          const { version, created_at, updated_at, ...entity } = current;
          return Array.isArray(body) ? applyJsonPatch(redactEntity(entity), body) : mergePatch(entity, body);
        },
        reply,
      );
    });

    scope.delete<IdParams>('/:id', async (req) => {
      const current = await load(req.params.id);
      const version = expectedVersion(req.headers['if-match'], current.version);
      await storeWrite('Embedding model', store.entities.delete(req.params.id, version ?? current.version));
      written(undefined);
      return { deleted: true, id: req.params.id };
    });
  });
}
