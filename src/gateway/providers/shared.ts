/** Pieces the HTTP adapters share: URL joining, vector reading, OpenAI-shaped bodies, option forwarding. */
import type { EmbeddingModelEntity } from '../../core/entity.js';
import { PROVIDERS } from '../../core/providers.js';
import { Embedding } from '../../core/vectors.js';
import {
  UpstreamShapeError,
  type EmbedCall,
  type EmbedResult,
  type HttpAdapter,
  type ResponseHeaders,
} from './types.js';

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** `base_url`, else the reference gateway's `base_domain`. */
export function configuredBase(connection: EmbeddingModelEntity['config']['connection']): string | undefined {
  return connection.base_url ?? connection.base_domain;
}

/**
 * The reference's body rewrites: `param_mappings` renames fields (`{from: to}`), then
 * `additional_body_params` is merged last.
 */
export function rewriteBody(
  body: Record<string, unknown>,
  connection: EmbeddingModelEntity['config']['connection'],
): Record<string, unknown> {
  const { param_mappings: mappings, additional_body_params: extra } = connection;
  if (!mappings && !extra) return body;
  const next = { ...body };
  for (const [from, to] of Object.entries(mappings ?? {})) {
    if (!(from in next)) continue;
    const value = next[from];
    delete next[from];
    next[to] = value;
  }
  return { ...next, ...extra };
}

/** The entity's options minus `model`: forwarded to the provider as-is. */
export function extraOptions(entity: EmbeddingModelEntity): Record<string, unknown> {
  const { model, ...rest } = entity.config.options;
  return rest;
}

/** Text inputs only: token arrays were refused before dispatch for providers that cannot take them. */
export function texts(call: EmbedCall): string[] {
  return call.inputs.map((input) => (typeof input === 'string' ? input : String(input)));
}

const allFinite = (vector: Float32Array) => vector.every(Number.isFinite);

/**
 * A vector as floats or as base64 little-endian float32, whatever the upstream chose to send.
 * Every value must be a finite float32: NaN, ±Inf and numbers beyond float32's range are refused.
 */
export function readVector(value: unknown, where: string): Embedding {
  if (value instanceof Embedding) return value; // read straight from the response's bytes, already checked
  if (typeof value === 'string') {
    let embedding: Embedding;
    try {
      embedding = Embedding.ofBase64(value);
    } catch {
      throw new UpstreamShapeError(`${where} is a string that is not base64 float32`);
    }
    if (!allFinite(embedding.toFloat32()))
      throw new UpstreamShapeError(`${where} holds a value that is NaN or infinite`);
    return embedding;
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((x) => typeof x === 'number')) {
    throw new UpstreamShapeError(`${where} is not a non-empty array of numbers`);
  }
  const floats = Float32Array.from(value as number[]);
  if (!allFinite(floats))
    throw new UpstreamShapeError(
      `${where} holds a value that is not a finite float32 (NaN, infinite, or beyond ±3.4e38)`,
    );
  return Embedding.ofFloats(floats);
}

export function readVectors(list: unknown, where: string): Embedding[] {
  if (!Array.isArray(list)) throw new UpstreamShapeError(`${where} is missing or not an array`);
  return list.map((value, i) => readVector(value, `${where}[${i}]`));
}

function field(body: unknown, key: string): unknown {
  return body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
}

export function numberAt(body: unknown, ...path: string[]): number | undefined {
  const value = path.reduce<unknown>((node, key) => field(node, key), body);
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function stringAt(body: unknown, ...path: string[]): string | undefined {
  const value = path.reduce<unknown>((node, key) => field(node, key), body);
  return typeof value === 'string' ? value : undefined;
}

/** `{data:[{index, embedding}], model, usage}`: OpenAI and the many servers that copy it. */
export function parseOpenAIShape(
  body: unknown,
  call: EmbedCall,
  tokens: (body: unknown) => number | undefined,
): EmbedResult {
  const data = field(body, 'data');
  if (!Array.isArray(data)) throw new UpstreamShapeError("the body has no 'data' array");
  const ordered = data.every((item) => typeof field(item, 'index') === 'number')
    ? [...data].sort((a, b) => (field(a, 'index') as number) - (field(b, 'index') as number))
    : data;
  return {
    vectors: ordered.map((item, i) => readVector(field(item, 'embedding'), `data[${i}].embedding`)),
    model: stringAt(body, 'model') || call.model,
    promptTokens: tokens(body),
  };
}

/** The message inside the error bodies providers send: `{error:{message}}`, `{error:"…"}`, `{message}`, `{detail}`. */
export function commonErrorMessage(body: unknown): string | undefined {
  const error = field(body, 'error');
  if (typeof error === 'string') return error;
  const nested = stringAt(error, 'message');
  if (nested) return nested;
  const message = stringAt(body, 'message') ?? stringAt(body, 'detail');
  if (message) return message;
  const detail = field(body, 'detail');
  return Array.isArray(detail) ? JSON.stringify(detail).slice(0, 300) : undefined;
}

/** `dimensions` supported by the models matching `pattern`, refused with a reason for the others. */
export function dimensionsFor(pattern: RegExp, provider: string) {
  return (model: string, dimensions?: number): string | undefined =>
    dimensions === undefined || pattern.test(model)
      ? undefined
      : `${provider} cannot shorten '${model}' vectors: 'dimensions' is not supported for this model`;
}

export interface OpenAIStyleSpec {
  id: HttpAdapter['id'];
  maxInputsPerCall: number;
  acceptsTokenInputs: boolean;
  /** Name of the dimensions field on this provider's wire, or undefined when there is none. */
  dimensionsField: string | undefined;
  checkModel: HttpAdapter['checkModel'];
  /** The provider takes `encoding_format`: it is asked for the caller's, and its vectors pass through untouched ' +
    '(the parser reads either). */
  forwardsEncoding: boolean;
  tokens: (body: unknown) => number | undefined;
  /** Where the embeddings route is under the base URL (`v1/embeddings` for xAI). */
  path?: string;
  /** The base URL once configured or defaulted (the reference puts `/v1` under a bare `https://api.openai.com`). */
  fixBase?: (base: string) => string;
}

/** An adapter for an OpenAI-shaped `POST {base}/embeddings`: only the spec's facts differ. */
export function openAIStyleAdapter(spec: OpenAIStyleSpec): HttpAdapter {
  const fixBase = spec.fixBase ?? ((base: string) => base);
  return {
    kind: 'http',
    id: spec.id,
    baseUrl: (connection) => {
      const base = configuredBase(connection) ?? PROVIDERS[spec.id].defaultBaseUrl;
      return base === undefined ? undefined : fixBase(base);
    },
    defaultModel: PROVIDERS[spec.id].defaultModel,
    maxInputsPerCall: spec.maxInputsPerCall,
    acceptsTokenInputs: spec.acceptsTokenInputs,
    checkModel: spec.checkModel,
    buildRequest(call, baseUrl) {
      // The caller's encoding first, so that an entity's own `encoding_format` option (a server that refuses one) wins.
      const body: Record<string, unknown> = {
        model: call.model,
        input: spec.acceptsTokenInputs ? call.inputs : texts(call),
        ...(spec.forwardsEncoding ? { encoding_format: call.encoding } : {}),
        ...extraOptions(call.entity),
      };
      if (call.dimensions !== undefined && spec.dimensionsField) body[spec.dimensionsField] = call.dimensions;
      if (call.user !== undefined && spec.id === 'openai') body.user = call.user;
      return {
        url: joinUrl(baseUrl, spec.path ?? 'embeddings'),
        headers: {},
        body: rewriteBody(body, call.entity.config.connection),
      };
    },
    parseResponse: (body, _headers: ResponseHeaders, call) => parseOpenAIShape(body, call, spec.tokens),
    errorMessage: commonErrorMessage,
  };
}
