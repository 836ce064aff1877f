/**
 * Model resolution and constraints: pure functions of the catalogue, the caller's key and the
 * requested model. Never a silent fallback: a vector from the wrong model corrupts a vector store
 * without any error, so anything ambiguous or unknown is refused.
 */
import { splitPatterns, type ApiKeyRecord } from '../core/api-key.js';
import { defaultModelOf, referenceSlug, slugify, type EmbeddingModelEntity } from '../core/entity.js';
import { ApiError, invalidRequest } from '../core/errors.js';
import { compilePatterns, type Pattern } from '../core/patterns.js';

export interface RoutableEntity {
  entity: EmbeddingModelEntity;
  slug: string;
  /** The reference gateway's slug (see `referenceSlug`): another name for the same entity. */
  referenceSlug: string;
  /** The model sent upstream when a request names only the entity. */
  defaultModel: string;
  include: Pattern[];
  exclude: Pattern[];
  /** Why its stored credentials cannot be read, when they cannot: it is then never called. */
  unreadable?: string | undefined;
}

export interface Catalogue {
  entities: RoutableEntity[];
  /** Entity by id, then slug, then name, then the reference's slug: the first claim on a string wins. */
  byName: Map<string, RoutableEntity>;
}

export interface Route {
  target: RoutableEntity;
  model: string;
}

export function buildCatalogue(
  entities: readonly (EmbeddingModelEntity & { unreadable?: string })[],
  providerDefaultModel: (entity: EmbeddingModelEntity) => string,
): Catalogue {
  const routable = entities.map<RoutableEntity>((entity) => ({
    entity,
    unreadable: entity.unreadable,
    slug: slugify(entity.name),
    referenceSlug: referenceSlug(entity),
    defaultModel: defaultModelOf(entity) ?? providerDefaultModel(entity),
    include: compilePatterns(entity.models.include),
    exclude: compilePatterns(entity.models.exclude),
  }));
  const byName = new Map<string, RoutableEntity>();
  for (const pick of [
    (r: RoutableEntity) => r.entity.id,
    (r: RoutableEntity) => r.slug,
    (r: RoutableEntity) => r.entity.name,
    (r: RoutableEntity) => r.referenceSlug,
  ]) {
    for (const r of routable) if (!byName.has(pick(r))) byName.set(pick(r), r);
  }
  return { entities: routable, byName };
}

/** The names a caller can use for this entity's default model. */
export function qualifiedName(target: RoutableEntity, model = target.defaultModel): string {
  return `${target.slug || target.entity.id}/${model}`;
}

/** Models named in a "does not exist" answer: enough to spot a typo, not the whole catalogue. */
const MAX_LISTED = 10;

/** The enabled models this key may use (never the others: a key must not learn of them). */
function usableNames(catalogue: Catalogue, key: KeyConstraints): string {
  const names = catalogue.entities
    .filter(
      (r) =>
        r.entity.enabled &&
        !r.unreadable &&
        !patternBlocking([r.defaultModel], r.include, r.exclude) &&
        !patternBlocking(namesOf(r, r.defaultModel), key.include, key.exclude),
    )
    .map((r) => qualifiedName(r));
  if (names.length === 0) return '(none for this key: `embctl models list` shows what exists)';
  const more = names.length > MAX_LISTED ? ` and ${names.length - MAX_LISTED} more (GET /v1/models lists them)` : '';
  return `${names.slice(0, MAX_LISTED).join(', ')}${more}`;
}

function notFound(catalogue: Catalogue, key: KeyConstraints, requested: string, detail: string): ApiError {
  return new ApiError(
    'not_found',
    `The model '${requested}' does not exist: ${detail}. Models this key may use: ${usableNames(catalogue, key)}.`,
    {
      param: 'model',
      code: 'model_not_found',
    },
  );
}

function locate(catalogue: Catalogue, key: KeyConstraints, requested: string): Route {
  const hashes = requested.indexOf('###');
  if (hashes !== -1) {
    const target = catalogue.byName.get(requested.slice(0, hashes));
    const model = requested.slice(hashes + 3);
    if (!target)
      throw notFound(catalogue, key, requested, `no embedding model entity has id '${requested.slice(0, hashes)}'`);
    return { target, model: model || target.defaultModel };
  }
  const slash = requested.indexOf('/');
  if (slash !== -1) {
    const target = catalogue.byName.get(requested.slice(0, slash));
    // A model name may itself hold a slash (BAAI/bge-small-en): only an entity prefix splits it.
    if (target) return { target, model: requested.slice(slash + 1) || target.defaultModel };
  }
  const named = catalogue.byName.get(requested);
  if (named) return { target: named, model: named.defaultModel };

  const serving = catalogue.entities.filter((r) => r.defaultModel === requested);
  const enabled = serving.filter((r) => r.entity.enabled);
  if (enabled.length > 1) {
    throw invalidRequest(
      `The model '${requested}' is served by ${enabled.length} embedding models; name one: ` +
        `${enabled.map((r) => qualifiedName(r)).join(', ')}.`,
      'model',
      'ambiguous_model',
    );
  }
  const only = enabled[0] ?? serving[0];
  if (only) return { target: only, model: requested };
  throw notFound(
    catalogue,
    key,
    requested,
    'no embedding model entity has that id, name or slug, or serves that model',
  );
}

/**
 * The names one routed model goes by, as a request or a key's pattern writes it: the model, and
 * `slug/model`, `id/model` and the reference's `slug/model`. A key's `local/.*` then means what it says.
 */
function namesOf(target: RoutableEntity, model: string): string[] {
  return [
    ...new Set([
      model,
      `${target.slug || target.entity.id}/${model}`,
      `${target.entity.id}/${model}`,
      `${target.referenceSlug || target.entity.id}/${model}`,
    ]),
  ];
}

/** Why none of `names` may pass: excluded if any name matches an exclude; included if any matches an include. */
function patternBlocking(names: string[], include: Pattern[], exclude: Pattern[]): string | undefined {
  const excluded = exclude.find((p) => names.some((name) => p.re.test(name)));
  if (excluded) return `it matches the exclude pattern '${excluded.source}'`;
  if (include.length > 0 && !include.some((p) => names.some((name) => p.re.test(name)))) {
    return `it matches none of the include patterns ${include.map((p) => `'${p.source}'`).join(', ')}`;
  }
  return undefined;
}

export interface KeyConstraints {
  keyName: string;
  include: Pattern[];
  exclude: Pattern[];
}

export function keyConstraintsOf(key: ApiKeyRecord): KeyConstraints {
  return {
    keyName: key.name,
    include: compilePatterns(splitPatterns(key.metadata.ai_models_include)),
    exclude: compilePatterns(splitPatterns(key.metadata.ai_models_exclude)),
  };
}

/** Resolves and checks: every level (entity, key) must allow the model. */
export function routeRequest(catalogue: Catalogue, requested: string, key: KeyConstraints): Route {
  const route = locate(catalogue, key, requested);
  const { entity } = route.target;
  if (!entity.enabled) {
    throw new ApiError(
      'permission',
      `The embedding model '${entity.id}' is disabled; an operator can enable it with \`embctl models enable ` +
        `${entity.id}\`.`,
      {
        param: 'model',
        code: 'model_disabled',
      },
    );
  }
  if (route.target.unreadable) {
    throw new ApiError(
      'unavailable',
      `The embedding model '${entity.id}' cannot be used: ${route.target.unreadable}. An operator must restate its ` +
        `credentials (\`embctl models update ${entity.id} --token …\`) or delete it.`,
      {
        param: 'model',
        code: 'entity_unreadable',
        headers: { 'x-should-retry': 'false' },
      },
    );
  }
  const byEntity = patternBlocking([route.model], route.target.include, route.target.exclude);
  if (byEntity) {
    throw new ApiError(
      'permission',
      `The model '${route.model}' is not allowed by embedding model '${entity.id}': ${byEntity}.`,
      {
        param: 'model',
        code: 'model_not_allowed',
      },
    );
  }
  // Most keys have no patterns: the names they would be matched by are not built for them.
  const keyRestricts = key.include.length > 0 || key.exclude.length > 0;
  const byKey = keyRestricts
    ? patternBlocking(namesOf(route.target, route.model), key.include, key.exclude)
    : undefined;
  if (byKey) {
    throw new ApiError(
      'permission',
      `The model '${route.model}' is not allowed for API key '${key.keyName}': ${byKey} ` +
        `(ai_models_include/ai_models_exclude).`,
      {
        param: 'model',
        code: 'model_not_allowed',
      },
    );
  }
  return route;
}
