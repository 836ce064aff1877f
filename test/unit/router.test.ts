import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from '../../src/core/api-key.js';
import type { EmbeddingModelEntity } from '../../src/core/entity.js';
import { ApiError } from '../../src/core/errors.js';
import { buildCatalogue, keyConstraintsOf, routeRequest } from '../../src/gateway/router.js';

function entity(
  id: string,
  name: string,
  model: string,
  extra: Partial<EmbeddingModelEntity> = {},
): EmbeddingModelEntity {
  return {
    id,
    name,
    description: '',
    provider: 'openai',
    config: { connection: { timeout: 1000 }, options: { model } },
    models: { include: [], exclude: [] },
    enabled: true,
    metadata: {},
    tags: [],
    ...extra,
  };
}

function key(metadata: Record<string, string> = {}): ApiKeyRecord {
  return {
    id: 'k1',
    name: 'ci',
    hash: 'h',
    redacted: 'emb_…',
    enabled: true,
    expires_at: null,
    revoked_at: null,
    metadata,
    created_at: '',
    updated_at: '',
  };
}

const catalogue = buildCatalogue(
  [
    entity('openai-small', 'My OpenAI', 'text-embedding-3-small', {
      models: { include: ['text-embedding-3-.*'], exclude: ['.*ada.*'] },
    }),
    entity('mistral', 'Mistral', 'mistral-embed'),
    entity('dup-a', 'Dup A', 'shared-model'),
    entity('dup-b', 'Dup B', 'shared-model'),
    entity('old', 'Old', 'retired-model', { enabled: false }),
    entity('bge', 'BGE', 'BAAI/bge-small-en'),
  ],
  () => 'fallback',
);

function routeError(requested: string, metadata: Record<string, string> = {}): ApiError {
  try {
    routeRequest(catalogue, requested, keyConstraintsOf(key(metadata)));
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected a routing failure');
}

const route = (requested: string, metadata: Record<string, string> = {}) => {
  const r = routeRequest(catalogue, requested, keyConstraintsOf(key(metadata)));
  return `${r.target.entity.id} ${r.model}`;
};

describe('model routing', () => {
  it('resolves each form', () => {
    expect(route('my-openai/text-embedding-3-large')).toBe('openai-small text-embedding-3-large');
    expect(route('openai-small/text-embedding-3-large')).toBe('openai-small text-embedding-3-large');
    expect(route('openai-small###text-embedding-3-large')).toBe('openai-small text-embedding-3-large');
    expect(route('openai-small')).toBe('openai-small text-embedding-3-small');
    expect(route('My OpenAI')).toBe('openai-small text-embedding-3-small');
    expect(route('my-openai')).toBe('openai-small text-embedding-3-small');
    expect(route('mistral-embed')).toBe('mistral mistral-embed');
    // A model name with a slash is not mistaken for an entity prefix.
    expect(route('BAAI/bge-small-en')).toBe('bge BAAI/bge-small-en');
  });

  it('never falls back: unknown is 404 model_not_found listing what exists', () => {
    const error = routeError('text-embedding-ada-003');
    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(error.message).toContain('my-openai/text-embedding-3-small');
    expect(routeError('nope###x').code).toBe('model_not_found');
  });

  it('refuses an ambiguous model name, listing the candidates', () => {
    const error = routeError('shared-model');
    expect(error.status).toBe(400);
    expect(error.code).toBe('ambiguous_model');
    expect(error.message).toContain('dup-a/shared-model');
    expect(error.message).toContain('dup-b/shared-model');
  });

  it('says a disabled entity is disabled', () => {
    const error = routeError('old');
    expect(error.status).toBe(403);
    expect(error.code).toBe('model_disabled');
    expect(routeError('retired-model').code).toBe('model_disabled');
  });

  describe('constraints: every level must allow the model', () => {
    it('neither level constrains', () => expect(route('mistral/anything')).toBe('mistral anything'));
    it('entity include refuses', () =>
      expect(routeError('openai-small/other-model').message).toMatch(
        /none of the include patterns 'text-embedding-3-\.\*'/,
      ));
    it('entity exclude refuses', () =>
      expect(routeError('openai-small###text-embedding-3-ada').message).toMatch(/exclude pattern '\.\*ada\.\*'/));
    it('key include refuses', () =>
      expect(routeError('mistral', { ai_models_include: 'text-.*' }).message).toMatch(/API key 'ci'/));
    it('key exclude refuses', () =>
      expect(routeError('mistral', { ai_models_exclude: 'foo, mistral-.*' }).code).toBe('model_not_allowed'));
    it('both allow', () =>
      expect(route('openai-small', { ai_models_include: 'text-embedding-3-small' })).toBe(
        'openai-small text-embedding-3-small',
      ));
    it('entity allows, key refuses', () =>
      expect(routeError('openai-small', { ai_models_exclude: '.*small' }).status).toBe(403));
    it('patterns match the whole name', () =>
      expect(routeError('mistral', { ai_models_include: 'mistral' }).code).toBe('model_not_allowed'));
  });
});

describe('key patterns match what a user writes', () => {
  const catalogue = buildCatalogue(
    [
      entity('local', 'local', 'hash-384-v1', { provider: 'local' }),
      entity('oa', 'OpenAI small', 'text-embedding-3-small'),
    ],
    () => 'x',
  );
  const allows = (meta: Record<string, string>, model: string) => {
    try {
      routeRequest(catalogue, model, keyConstraintsOf(key(meta)));
      return true;
    } catch (error) {
      if (error instanceof ApiError) return false;
      throw error;
    }
  };

  it.each([
    [{ ai_models_include: 'local/.*' }, 'local', true],
    [{ ai_models_include: 'local/.*' }, 'local/hash-384-v1', true],
    [{ ai_models_include: 'local/.*' }, 'oa', false],
    [{ ai_models_include: 'hash-.*' }, 'local', true],
    [{ ai_models_include: 'openai-small/.*' }, 'text-embedding-3-small', true],
    [{ ai_models_exclude: 'local/.*' }, 'local/hash-384-v1', false],
    [{ ai_models_exclude: 'local/.*' }, 'oa', true],
  ])('%j: %s allowed = %s', (meta, model, expected) => {
    expect(allows(meta, model)).toBe(expected);
  });

  it('a model that does not exist lists only what the key may use, capped', () => {
    const many = buildCatalogue(
      [
        entity('secret', 'secret', 'internal-model'),
        ...Array.from({ length: 15 }, (_, i) => entity(`pub-${i}`, `pub ${i}`, `public-${i}`)),
      ],
      () => 'x',
    );
    try {
      routeRequest(many, 'nope', keyConstraintsOf(key({ ai_models_exclude: 'secret/.*' })));
      throw new Error('expected a 404');
    } catch (error) {
      const message = (error as ApiError).message;
      expect(message).not.toContain('secret');
      expect(message).toContain('pub-0/public-0');
      expect(message).toContain('and 5 more');
    }
  });
});

describe("the reference gateway's slug", () => {
  const reference = buildCatalogue(
    [
      entity('e1', 'My Embedding Model', 'text-embedding-3-small'),
      entity('e2', 'Search', 'text-embedding-3-large', { metadata: { endpoint_name: 'search-v2--prod' } }),
      entity('e3', 'Other', 'bge-small', { metadata: { provider_name: 'Acme Provider' } }),
    ],
    () => 'default',
  );

  it('routes by name slugified with - turned into _, by endpoint_name, then provider_name', () => {
    expect(routeRequest(reference, 'my_embedding_model/text-embedding-3-small', keyConstraintsOf(key()))).toMatchObject(
      {
        target: { entity: { id: 'e1' } },
        model: 'text-embedding-3-small',
      },
    );
    // The hyphenated slug keeps working.
    expect(routeRequest(reference, 'my-embedding-model', keyConstraintsOf(key())).target.entity.id).toBe('e1');
    expect(
      routeRequest(reference, 'search_v2_prod/text-embedding-3-large', keyConstraintsOf(key())).target.entity.id,
    ).toBe('e2');
    expect(routeRequest(reference, 'acme_provider', keyConstraintsOf(key())).target.entity.id).toBe('e3');
  });

  it('lets key patterns written with it apply', () => {
    const allowed = keyConstraintsOf(key({ ai_models_include: 'my_embedding_model/.*' }));
    expect(routeRequest(reference, 'e1', allowed).target.entity.id).toBe('e1');
    expect(() => routeRequest(reference, 'e2', allowed)).toThrow(ApiError);
  });
});
