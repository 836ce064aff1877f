/**
 * The one small interface every provider adapter implements. Adapters only translate (request
 * out, response and errors in) and state their limits; the transport, retries, splitting and
 * error statuses are shared (`upstream.ts`, `dispatch.ts`), so no adapter repeats them.
 */
import type { EmbeddingInput, EncodingFormat } from '../../core/embeddings-request.js';
import type { EmbeddingModelEntity } from '../../core/entity.js';
import type { ProviderId } from '../../core/providers.js';
import type { Embedding } from '../../core/vectors.js';

/** One upstream call: a part of a request already split to the provider's per-call limit. */
export interface EmbedCall {
  entity: EmbeddingModelEntity;
  /** The model name sent upstream, after routing. */
  model: string;
  inputs: EmbeddingInput[];
  /** cl100k_base tokens in `inputs`; counted for in-process adapters only (0 for upstreams, which report their own). */
  tokenCount: number;
  dimensions?: number | undefined;
  /** The length every vector must have, when known (asked, or the entity's for its default model). */
  vectorLength?: number | undefined;
  user?: string | undefined;
  /** What the caller asked for: providers that take `encoding_format` are asked the same, so vectors pass through. */
  encoding: EncodingFormat;
}

export interface EmbedResult {
  vectors: Embedding[];
  /** The model the upstream says it served; the gateway reports this, not what was asked. */
  model: string;
  /** Absent when the provider reports no usage: the gateway then estimates it with the tokenizer. */
  promptTokens?: number | undefined;
}

interface AdapterBase {
  id: ProviderId;
  defaultModel: string;
  /** Inputs per upstream call; larger requests are split and reassembled in order. */
  maxInputsPerCall: number;
  /** Token-id inputs mean something only to a cl100k tokenizer; others reject them. */
  acceptsTokenInputs: boolean;
  /** Why this adapter cannot serve `model` (at `dimensions`, when asked), or undefined when it can. */
  checkModel(model: string, dimensions?: number): string | undefined;
  /** The model served when neither the request nor `options.model` names one, if the connection decides it. */
  defaultModelFor?(connection: EmbeddingModelEntity['config']['connection']): string | undefined;
}

/** Computed inside the gateway process, no network. */
export interface InProcessAdapter extends AdapterBase {
  kind: 'in-process';
  embed(call: EmbedCall): EmbedResult;
}

/** What an adapter says its request is; the credential source adds the authentication. */
export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** The static keys of one call (one of each, rotated), for adapters that present them their own way. */
export interface StaticKeys {
  token?: string | undefined;
  apiKey?: string | undefined;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** Reached over HTTP: the adapter builds the request and reads the answers. */
export interface HttpAdapter extends AdapterBase {
  kind: 'http';
  /** Where calls go: the entity's `base_url`, else the provider's default; undefined when neither exists. */
  baseUrl(connection: EmbeddingModelEntity['config']['connection']): string | undefined;
  /** Inputs per upstream call for `model`, when it differs from `maxInputsPerCall` (Titan: one). */
  inputsPerCall?(model: string): number;
  /** The request without credentials: the entity's credential source authenticates it. */
  buildRequest(call: EmbedCall, baseUrl: string): UpstreamRequest;
  /** How static keys are sent when not as `Authorization: Bearer {token}`. */
  presentKeys?(keys: StaticKeys): Record<string, string>;
  /** Reads a 2xx body; throws `UpstreamShapeError` when it is not what the provider sends. */
  parseResponse(body: unknown, headers: ResponseHeaders, call: EmbedCall): EmbedResult;
  /** The human message inside the provider's error body, if any. */
  errorMessage(body: unknown): string | undefined;
}

export type ProviderAdapter = InProcessAdapter | HttpAdapter;

/** A 2xx answer that does not have the provider's shape. */
export class UpstreamShapeError extends Error {
  override name = 'UpstreamShapeError';
}
