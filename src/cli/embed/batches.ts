/**
 * Records → batches: content-hash dedup (an identical text is embedded once; later copies point at
 * the first) and batches bounded by input count and by tokens. Token chunking of long texts too.
 */
import { CliError, ExitCode } from '../../core/errors.js';
import { EMBEDDINGS_LIMITS } from '../../core/limits.js';
import { countTextTokens, decodeTokens, encodeText, tokenBound } from '../../core/tokenizer.js';
import type { DedupIndex } from './dedup.js';
import type { InputRecord } from './sources.js';

export interface PlannedRecord extends InputRecord {
  /** Position in the output, 0-based, counting every record of this run. */
  position: number;
  /** Position of the earlier record with the same text, whose vector this one reuses. */
  copyOf?: number;
  /** An upper bound of its tokens (exact when near a limit). */
  tokens: number;
}

export interface Batch {
  index: number;
  records: PlannedRecord[];
  /** The records to send (no copies), in order. */
  unique: PlannedRecord[];
  tokens: number;
}

export interface BatchOptions {
  batchSize: number;
  maxBatchTokens: number;
}

/** Long texts → windows of `size` tokens overlapping by `overlap`; ids suffixed `#0`, `#1`, … */
export function* chunk(record: InputRecord, size: number, overlap: number): Generator<InputRecord> {
  const tokens = encodeText(record.text);
  if (tokens.length <= size) {
    yield record;
    return;
  }
  const step = size - overlap;
  for (let start = 0, k = 0; ; start += step, k++) {
    yield {
      id: `${record.id}#${k}`,
      text: decodeTokens(tokens.slice(start, start + size)),
      ...(record.metadata ? { metadata: record.metadata } : {}),
    };
    if (start + size >= tokens.length) return;
  }
}

/**
 * A token count good enough to bound a batch: the cheap upper bound, or the exact count when the
 * bound could cross `limit`. Most texts are far from every limit, so the tokenizer stays unloaded.
 */
export function tokensAtMost(text: string, limit: number): number {
  const bound = tokenBound(text);
  // Counting stops past the per-input limit: such a text is refused whatever its exact count.
  return bound <= limit ? bound : countTextTokens(text, EMBEDDINGS_LIMITS.maxTokensPerInput);
}

/**
 * Plans the batches. `seen` knows the position that first held each text; a resumed run passes
 * the texts of the records it skipped, so copies of those are reused too.
 */
export async function* plan(
  records: AsyncIterable<InputRecord>,
  options: BatchOptions,
  seen: DedupIndex,
  firstPosition = 0,
): AsyncGenerator<Batch> {
  let position = firstPosition;
  let index = 0;
  let current: Batch = { index, records: [], unique: [], tokens: 0 };
  const flush = function* () {
    if (current.records.length) yield current;
    current = { index: ++index, records: [], unique: [], tokens: 0 };
  };
  for await (const record of records) {
    const first = seen.firstOrRemember(record.text, position);
    if (first !== undefined) {
      current.records.push({ ...record, position: position++, copyOf: first, tokens: 0 });
      // A long run of copies still flushes, so memory stays bounded.
      if (current.records.length >= options.batchSize * 4) yield* flush();
      continue;
    }
    const tokens = tokensAtMost(
      record.text,
      Math.min(EMBEDDINGS_LIMITS.maxTokensPerInput, options.maxBatchTokens - current.tokens),
    );
    if (tokens > EMBEDDINGS_LIMITS.maxTokensPerInput) {
      throw new CliError(
        `input '${record.id}' has ${tokens} tokens; embedding models take at most ` +
          `${EMBEDDINGS_LIMITS.maxTokensPerInput}`,
        ExitCode.usage,
        'split long texts with --chunk-tokens 512 --chunk-overlap 64 (or shorter)',
      );
    }
    if (
      current.unique.length >= options.batchSize ||
      (current.unique.length > 0 && current.tokens + tokens > options.maxBatchTokens)
    )
      yield* flush();
    const planned: PlannedRecord = { ...record, position: position++, tokens };
    current.records.push(planned);
    current.unique.push(planned);
    current.tokens += tokens;
  }
  yield* flush();
}
