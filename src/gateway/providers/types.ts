/** The one small interface every provider adapter implements. */
import type { EmbeddingInput } from '../../core/embeddings-request.js';
import type { EmbeddingModelEntity } from '../../core/entity.js';
import type { ProviderId } from '../../core/providers.js';

/** One upstream call: a part of a request already split to the provider's per-call limit. */
export interface EmbedCall {
  entity: EmbeddingModelEntity;
  /** The model name sent upstream, after routing. */
  model: string;
  inputs: EmbeddingInput[];
  /** cl100k_base tokens in `inputs`, counted while validating. */
  tokenCount: number;
  dimensions?: number | undefined;
  user?: string | undefined;
}

export interface EmbedResult {
  vectors: Float32Array[];
  /** The model the upstream says it served; the gateway reports this, not what was asked. */
  model: string;
  /** Absent when the provider reports no usage: the gateway then estimates it with the tokenizer. */
  promptTokens?: number;
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
}

/** Computed inside the gateway process, no network. */
export interface InProcessAdapter extends AdapterBase {
  kind: 'in-process';
  embed(call: EmbedCall): EmbedResult;
}

export type ProviderAdapter = InProcessAdapter;
