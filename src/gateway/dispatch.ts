/**
 * From a routed, validated request to vectors: checks what the provider supports, splits the
 * inputs to its per-call limit, sends the parts with bounded concurrency (one failure fails the
 * whole request: never partial `data`), reassembles in order, checks every vector's length and
 * fills usage (the provider's own count, or the tokenizer's, flagged as estimated).
 */
import type { EmbeddingsRequest } from '../core/embeddings-request.js';
import type { BodyHold } from './body-budget.js';
import { ApiError, invalidRequest } from '../core/errors.js';
import { timeSlicer } from '../core/tokenizer.js';
import type { Embedding } from '../core/vectors.js';
import { adapterFor } from './providers/index.js';
import type { EmbedCall, EmbedResult, ProviderAdapter } from './providers/types.js';
import type { Route } from './router.js';
import type { Credentials } from './credentials/index.js';
import { callUpstream, type UpstreamDeps } from './upstream.js';

export interface DispatchResult {
  vectors: Embedding[];
  /** What the upstream says it served. */
  model: string;
  promptTokens: number;
  usageEstimated: boolean;
  upstreamMs: number;
}

/** Parts of one request in flight at once: enough to hide latency, few enough not to trip rate limits. */
export const PART_CONCURRENCY = 4;

type Part = Pick<EmbedCall, 'inputs' | 'tokenCount'>;

/** Consecutive parts of at most `size` inputs; token counts only for adapters that report them (local). */
function split(request: EmbeddingsRequest, size: number, counts: number[] | undefined): Part[] {
  const parts: Part[] = [];
  for (let start = 0; start < request.inputs.length; start += size) {
    const end = Math.min(start + size, request.inputs.length);
    let tokenCount = 0;
    if (counts) for (let i = start; i < end; i++) tokenCount += counts[i]!;
    parts.push({ inputs: request.inputs.slice(start, end), tokenCount });
  }
  return parts;
}

function checkLengths(vectors: Embedding[], expected: number | undefined, entityId: string): void {
  const want = expected ?? vectors[0]?.length;
  const bad = vectors.findIndex((v) => v.length !== want);
  if (bad !== -1) {
    throw new ApiError(
      'upstream',
      `The upstream of '${entityId}' returned a vector of ${vectors[bad]!.length} dimensions at index ${bad}, ` +
        `expected ${want}. ` +
        "Check the entity's dimensions against the model it serves.",
      { code: 'upstream_dimension_mismatch' },
    );
  }
}

function checkSupport(adapter: ProviderAdapter, route: Route, request: EmbeddingsRequest): void {
  const { entity } = route.target;
  if (request.tokenInputs && !adapter.acceptsTokenInputs) {
    throw invalidRequest(
      `The provider '${entity.provider}' does not take token-id inputs (they are cl100k_base ids, meaningless to ` +
        `its tokenizer); send text instead.`,
      'input',
      'token_input_unsupported',
    );
  }
  const refusal = adapter.checkModel(route.model, request.dimensions);
  if (refusal)
    throw invalidRequest(
      `Cannot serve '${route.model}' through '${entity.id}': ${refusal}.`,
      request.dimensions ? 'dimensions' : 'model',
      'unsupported_model',
    );
}

/**
 * Runs `task` over `items` with at most `limit` in flight, results in input order; the first failure aborts the rest.
 */
async function mapBounded<T, R>(
  items: T[],
  limit: number,
  task: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const abort = new AbortController();
  let next = 0;
  const worker = async () => {
    while (next < items.length && !abort.signal.aborted) {
      const index = next++;
      results[index] = await task(items[index]!, abort.signal);
    }
  };
  const workers = Array.from({ length: Math.min(limit, items.length) }, () =>
    worker().catch((error: unknown) => {
      abort.abort(error);
      throw error;
    }),
  );
  const settled = await Promise.allSettled(workers);
  if (abort.signal.aborted) throw abort.signal.reason;
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return results;
}

/** `hold`: the call's share of the body budget, taken when its first upstream answer arrives (see BodyHold). */
export type Dispatch = (route: Route, request: EmbeddingsRequest, hold?: BodyHold) => Promise<DispatchResult>;

export function createDispatch(deps: UpstreamDeps, credentials: Credentials): Dispatch {
  return async (route, request, hold) => {
    const { entity } = route.target;
    const adapter = adapterFor(entity.provider);
    checkSupport(adapter, route, request);
    // The entity's `dimensions` describes its default model; another model it allows may differ.
    const vectorLength =
      request.dimensions ?? (route.model === route.target.defaultModel ? entity.dimensions : undefined);
    const call = (part: Part): EmbedCall => ({
      entity,
      model: route.model,
      ...part,
      dimensions: request.dimensions,
      vectorLength,
      user: request.user,
      encoding: request.encodingFormat,
    });

    const started = performance.now();
    const parts = split(
      request,
      (adapter.kind === 'http' && adapter.inputsPerCall?.(route.model)) || adapter.maxInputsPerCall,
      adapter.kind === 'in-process' ? await request.tokenCounts() : undefined,
    );
    let results: EmbedResult[];
    if (adapter.kind === 'in-process') {
      // In time slices: a large batch computed here must not hold every other request.
      const pause = timeSlicer();
      results = [];
      for (const part of parts) {
        results.push(adapter.embed(call(part)));
        await pause();
      }
    } else {
      const deadline = Date.now() + entity.config.connection.timeout;
      const credential = credentials.for(entity, adapter);
      results =
        parts.length === 1
          ? [await callUpstream(adapter, call(parts[0]!), credential, deps, deadline, undefined, hold)]
          : await mapBounded(parts, PART_CONCURRENCY, (part, signal) =>
              callUpstream(adapter, call(part), credential, deps, deadline, signal, hold),
            );
    }
    const upstreamMs = performance.now() - started;

    const vectors = results.flatMap((r) => r.vectors);
    if (vectors.length !== request.inputs.length) {
      throw new ApiError(
        'upstream',
        `The upstream of '${entity.id}' returned ${vectors.length} vectors for ${request.inputs.length} inputs.`,
        {
          code: 'upstream_count_mismatch',
        },
      );
    }
    for (const [i, r] of results.entries()) {
      if (r.vectors.length !== parts[i]!.inputs.length) {
        throw new ApiError(
          'upstream',
          `The upstream of '${entity.id}' returned ${r.vectors.length} vectors for a batch of ` +
            `${parts[i]!.inputs.length}.`,
          {
            code: 'upstream_count_mismatch',
          },
        );
      }
    }
    checkLengths(vectors, vectorLength, entity.id);
    const reported = results.every((r) => r.promptTokens !== undefined);
    return {
      vectors,
      model: results[0]!.model,
      promptTokens: reported ? results.reduce((sum, r) => sum + r.promptTokens!, 0) : await request.totalTokens(),
      usageEstimated: !reported,
      upstreamMs,
    };
  };
}
