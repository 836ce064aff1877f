/**
 * Records → batches: content-hash dedup (an identical text is embedded once; later copies point at
 * the first) and batches bounded by input count and by tokens. Token chunking of long texts too.
 */
import { createHash } from 'node:crypto';
import { CliError, ExitCode } from '../../core/errors.js';
import { EMBEDDINGS_LIMITS } from '../../core/embeddings-request.js';
import { countTextTokens, decodeTokens, encodeText } from '../../core/tokenizer.js';
import type { InputRecord } from './sources.js';

export interface PlannedRecord extends InputRecord {
  /** Position in the output, 0-based, counting every record of this run. */
  position: number;
  /** Position of the earlier record with the same text, whose vector this one reuses. */
  copyOf?: number;
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
    yield { id: `${record.id}#${k}`, text: decodeTokens(tokens.slice(start, start + size)) };
    if (start + size >= tokens.length) return;
  }
}

export const textHash = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64');

/**
 * Plans the batches. `seen` maps a text hash to the position that first held it; a resumed run
 * passes the hashes of the records it skipped, so copies of those are reused too.
 */
export async function* plan(records: AsyncIterable<InputRecord>, options: BatchOptions, seen: Map<string, number>, firstPosition = 0): AsyncGenerator<Batch> {
  let position = firstPosition;
  let index = 0;
  let current: Batch = { index, records: [], unique: [], tokens: 0 };
  const flush = function* () {
    if (current.records.length) yield current;
    current = { index: ++index, records: [], unique: [], tokens: 0 };
  };
  for await (const record of records) {
    const hash = textHash(record.text);
    const first = seen.get(hash);
    if (first !== undefined) {
      current.records.push({ ...record, position: position++, copyOf: first, tokens: 0 });
      // A long run of copies still flushes, so memory stays bounded.
      if (current.records.length >= options.batchSize * 4) yield* flush();
      continue;
    }
    const tokens = countTextTokens(record.text);
    if (tokens > EMBEDDINGS_LIMITS.maxTokensPerInput) {
      throw new CliError(
        `input '${record.id}' has ${tokens} tokens; embedding models take at most ${EMBEDDINGS_LIMITS.maxTokensPerInput}`,
        ExitCode.usage,
        'split long texts with --chunk-tokens 512 --chunk-overlap 64 (or shorter)',
      );
    }
    if (current.unique.length >= options.batchSize || (current.unique.length > 0 && current.tokens + tokens > options.maxBatchTokens)) yield* flush();
    const planned = { ...record, position: position++, tokens };
    seen.set(hash, planned.position);
    current.records.push(planned);
    current.unique.push(planned);
    current.tokens += tokens;
  }
  yield* flush();
}
