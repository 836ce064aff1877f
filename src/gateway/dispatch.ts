/**
 * From a routed, validated request to vectors: checks what the provider supports, splits the
 * inputs to its per-call limit, calls it, reassembles in order, checks every vector's length and
 * fills usage (the provider's own count, or the tokenizer's, flagged as estimated).
 */
import type { EmbeddingsRequest } from '../core/embeddings-request.js';
import { ApiError, invalidRequest } from '../core/errors.js';
import { adapterFor } from './providers/index.js';
import type { EmbedResult } from './providers/types.js';
import type { Route } from './router.js';

export interface DispatchResult {
  vectors: Float32Array[];
  /** What the upstream says it served. */
  model: string;
  promptTokens: number;
  usageEstimated: boolean;
  upstreamMs: number;
}

/** Consecutive parts of at most `size` inputs, each with its token count. */
function split(request: EmbeddingsRequest, size: number): { inputs: EmbeddingsRequest['inputs']; tokenCount: number }[] {
  const parts = [];
  for (let start = 0; start < request.inputs.length; start += size) {
    const end = Math.min(start + size, request.inputs.length);
    let tokenCount = 0;
    for (let i = start; i < end; i++) tokenCount += request.tokenCounts[i]!;
    parts.push({ inputs: request.inputs.slice(start, end), tokenCount });
  }
  return parts;
}

function checkLengths(vectors: Float32Array[], expected: number | undefined, entityId: string): void {
  const want = expected ?? vectors[0]?.length;
  const bad = vectors.findIndex((v) => v.length !== want);
  if (bad !== -1) {
    throw new ApiError(
      'upstream',
      `The upstream of '${entityId}' returned a vector of ${vectors[bad]!.length} dimensions at index ${bad}, expected ${want}. ` +
        'Check the entity\'s dimensions against the model it serves.',
      { code: 'upstream_dimension_mismatch' },
    );
  }
}

export async function dispatch(route: Route, request: EmbeddingsRequest): Promise<DispatchResult> {
  const { entity } = route.target;
  const adapter = adapterFor(entity.provider);
  if (!adapter) {
    throw new ApiError('unavailable', `The provider '${entity.provider}' of embedding model '${entity.id}' is not available in this build.`, {
      code: 'provider_unavailable',
    });
  }
  if (request.tokenInputs && !adapter.acceptsTokenInputs) {
    throw invalidRequest(
      `The provider '${entity.provider}' does not take token-id inputs (they are cl100k_base ids, meaningless to its tokenizer); send text instead.`,
      'input',
      'token_input_unsupported',
    );
  }
  const refusal = adapter.checkModel(route.model, request.dimensions);
  if (refusal) throw invalidRequest(`Cannot serve '${route.model}' through '${entity.id}': ${refusal}.`, request.dimensions ? 'dimensions' : 'model', 'unsupported_model');

  const started = performance.now();
  const results: EmbedResult[] = split(request, adapter.maxInputsPerCall).map((part) =>
    adapter.embed({ entity, model: route.model, ...part, dimensions: request.dimensions, user: request.user }),
  );
  const upstreamMs = performance.now() - started;

  const vectors = results.flatMap((r) => r.vectors);
  if (vectors.length !== request.inputs.length) {
    throw new ApiError('upstream', `The upstream of '${entity.id}' returned ${vectors.length} vectors for ${request.inputs.length} inputs.`, {
      code: 'upstream_count_mismatch',
    });
  }
  // The entity's `dimensions` describes its default model; another model it allows may differ.
  const declared = route.model === route.target.defaultModel ? entity.dimensions : undefined;
  checkLengths(vectors, request.dimensions ?? declared, entity.id);
  const reported = results.every((r) => r.promptTokens !== undefined);
  return {
    vectors,
    model: results[0]!.model,
    promptTokens: reported ? results.reduce((sum, r) => sum + r.promptTokens!, 0) : request.totalTokens,
    usageEstimated: !reported,
    upstreamMs,
  };
}
