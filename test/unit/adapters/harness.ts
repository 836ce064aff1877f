/**
 * Table-driven adapter tests: each provider's file lists its cases, this runs them against the
 * adapter's own functions (request builder, response parser, error reader, model check), with no
 * gateway, socket or build. The end-to-end contract suite (integration/providers.test.ts) stays.
 */
import { describe, expect, it } from 'vitest';
import type { Connection, EmbeddingModelEntity } from '../../../src/core/entity.js';
import type { ProviderId } from '../../../src/core/providers.js';
import { Embedding } from '../../../src/core/vectors.js';
import type { EmbedCall, HttpAdapter, ResponseHeaders } from '../../../src/gateway/providers/types.js';
import { staticSource } from '../../../src/gateway/credentials/static.js';

export interface RequestCase {
  name: string;
  connection?: Partial<Connection>;
  options?: Record<string, unknown>;
  call?: Partial<Pick<EmbedCall, 'model' | 'inputs' | 'dimensions' | 'user' | 'encoding'>>;
  /** The entity's `token`, presented by the static credential source as the provider wants it. */
  credential?: string;
  url: string;
  headers?: Record<string, string>;
  /** Headers that must not be sent. */
  absentHeaders?: string[];
  /** Matched with toMatchObject; `absent` lists keys the body must not have. */
  body: Record<string, unknown>;
  absent?: string[];
}

export interface ResponseCase {
  name: string;
  body: unknown;
  headers?: ResponseHeaders;
  call?: Partial<Pick<EmbedCall, 'model' | 'inputs'>>;
  vectors?: number[][];
  model?: string;
  promptTokens?: number | undefined;
  /** The parse must fail with a message matching this. */
  refused?: RegExp;
}

export interface AdapterTable {
  requests: RequestCase[];
  responses: ResponseCase[];
  /** An error body and the message the adapter reads from it. */
  errors: { body: unknown; message: string | undefined }[];
  /** `[model, dimensions, refused]`. */
  models: [string, number | undefined, boolean][];
}

function entityFor(
  provider: ProviderId,
  connection: Partial<Connection> = {},
  options: Record<string, unknown> = {},
): EmbeddingModelEntity {
  return {
    id: `unit-${provider}`,
    name: `unit ${provider}`,
    description: '',
    provider,
    config: {
      connection: { timeout: 1000, base_url: 'http://upstream.test/v1', ...connection },
      options: { model: 'm-1', ...options },
    },
    models: { include: [], exclude: [] },
    enabled: true,
    metadata: {},
    tags: [],
  };
}

function callFor(entity: EmbeddingModelEntity, call: RequestCase['call'] = {}): EmbedCall {
  return { entity, model: 'm-1', inputs: ['alpha', 'beta'], tokenCount: 0, encoding: 'float', ...call };
}

const floatsOf = (vectors: Embedding[]) => vectors.map((v) => Array.from(v.toFloat32()));

export function describeAdapter(adapter: HttpAdapter, table: AdapterTable): void {
  describe(`${adapter.id} adapter`, () => {
    it.each(table.requests.map((c) => [c.name, c] as const))('builds the request: %s', (_name, c) => {
      const entity = entityFor(
        adapter.id,
        { ...(c.credential ? { token: c.credential } : {}), ...c.connection },
        c.options,
      );
      const baseUrl = adapter.baseUrl(entity.config.connection)!;
      const built = adapter.buildRequest(callFor(entity, c.call), baseUrl);
      const source = staticSource(
        adapter,
        entity,
        (_field, value) => value,
        () => 0,
        () => [],
      );
      const sent = source.authorize({ method: 'POST', url: built.url, headers: built.headers, body: '' });
      expect(built.url).toBe(c.url);
      const headers = (sent as { headers: Record<string, string> }).headers;
      expect(headers).toMatchObject(c.headers ?? {});
      for (const name of c.absentHeaders ?? []) expect(headers).not.toHaveProperty(name);
      expect(built.body).toMatchObject(c.body);
      for (const key of c.absent ?? []) expect(built.body).not.toHaveProperty(key);
    });

    it.each(table.responses.map((c) => [c.name, c] as const))('reads the response: %s', (_name, c) => {
      const call = callFor(entityFor(adapter.id), c.call);
      const parse = () => adapter.parseResponse(c.body, c.headers ?? {}, call);
      if (c.refused) {
        expect(parse).toThrow(c.refused);
        return;
      }
      const result = parse();
      if (c.vectors) expect(floatsOf(result.vectors)).toEqual(c.vectors.map((v) => v.map(Math.fround)));
      if (c.model !== undefined) expect(result.model).toBe(c.model);
      if ('promptTokens' in c) expect(result.promptTokens).toBe(c.promptTokens);
    });

    it.each(table.errors.map((c, i) => [i, c] as const))('reads error body #%d', (_i, c) => {
      expect(adapter.errorMessage(c.body)).toBe(c.message);
    });

    it.each(table.models)('checkModel(%s, %s) refuses: %s', (model, dimensions, refused) => {
      expect(adapter.checkModel(model, dimensions) !== undefined).toBe(refused);
    });
  });
}

/** base64 little-endian float32, as upstreams send for `encoding_format: "base64"`. */
export const b64 = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString('base64');
export const wired = (values: number[]) => Embedding.ofBase64(b64(values));
