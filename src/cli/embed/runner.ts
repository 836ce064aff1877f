/**
 * Sends planned batches with at most `concurrency` in flight, retries what may succeed on a second
 * try, and hands results to the sink strictly in input order. Every response's model is checked
 * against the first: vectors from two models must never share an output.
 */
import { CliError, ExitCode, interruptedError } from '../../core/errors.js';
import { backoffMs, RETRIABLE_STATUS, sleep } from '../../core/retry.js';
import { base64ToFloat32, float32ToBase64, float32ToJson } from '../../core/vectors.js';
import type { EmbeddingsResponse, GatewayClient } from '../../client/gateway-client.js';
import type { Batch, PlannedRecord } from './batches.js';

export const VECTOR_FORMATS = ['float', 'base64'] as const;
export type VectorFormat = (typeof VECTOR_FORMATS)[number];

export interface OutputRecord {
  position: number;
  id: string;
  text: string;
  /** The `embedding` value as JSON text: an array of numbers, or a base64 string in quotes. */
  embedding: string;
  /** Source fields carried into the index (--metadata-field / --metadata-column). */
  metadata?: Record<string, unknown> | undefined;
}

/** Where ordered results go: the JSONL index file, or stdout. */
export interface RecordSink {
  /** Called with the first response's model and size, before anything is written. */
  begin(model: string, dimensions: number): void;
  write(records: OutputRecord[]): void | Promise<void>;
  /** The serialized embedding of an earlier record (for copies no longer in the cache). */
  embeddingAt(position: number): string | Promise<string>;
}

export interface RunnerOptions {
  model: string;
  dimensions?: number;
  /** What to ask the gateway for: base64 is a quarter of the bytes. */
  wire: VectorFormat;
  vectorFormat: VectorFormat;
  concurrency: number;
  retries: number;
  /** The model the output already holds (resume, append): responses must match it. */
  expectModel?: string;
  onRetry?: (info: { batch: number; attempt: number; waitMs: number; reason: string }) => void;
  onProgress?: (stats: RunStats) => void;
  /** Ctrl-C: no new batch is sent, retry waits end, and the run stops with what is written kept. */
  signal?: AbortSignal;
}

export interface RunStats {
  records: number;
  embedded: number;
  batches: number;
  tokens: number;
  retries: number;
  model: string | undefined;
  dimensions: number | undefined;
}

function isRetriable(error: unknown): boolean {
  if (!(error instanceof CliError)) return false;
  // The gateway knows better than a status code: a spent budget or a broken entity never heals by waiting.
  if (error.details?.shouldRetry === false) return false;
  const status = error.details?.status;
  if (typeof status === 'number') return RETRIABLE_STATUS.has(status);
  return error.exitCode === ExitCode.unreachable;
}

/** One embedding, serialized in the output's format straight from the wire's: no round trip when they agree. */
export function serialize(embedding: number[] | string, format: VectorFormat): { text: string; dimensions: number } {
  if (typeof embedding === 'string') {
    if (format === 'base64')
      return { text: JSON.stringify(embedding), dimensions: Buffer.byteLength(embedding, 'base64') / 4 };
    const vector = base64ToFloat32(embedding);
    return { text: float32ToJson(vector), dimensions: vector.length };
  }
  if (format === 'float') return { text: JSON.stringify(embedding), dimensions: embedding.length };
  return { text: JSON.stringify(float32ToBase64(Float32Array.from(embedding))), dimensions: embedding.length };
}

/**
 * `promise`, or a rejection as soon as `signal` aborts. The listener goes with the promise: racing
 * every batch against one never-settling promise would keep each response alive to the end.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export async function runEmbedding(
  batches: AsyncIterable<Batch>,
  client: GatewayClient,
  sink: RecordSink,
  options: RunnerOptions,
): Promise<RunStats> {
  const stats: RunStats = {
    records: 0,
    embedded: 0,
    batches: 0,
    tokens: 0,
    retries: 0,
    model: options.expectModel,
    dimensions: undefined,
  };
  let begun = false;
  const stopIfInterrupted = () => {
    if (options.signal?.aborted) {
      throw interruptedError(
        `${stats.records.toLocaleString('en-US')} record(s) written`,
        'rerun the same command to resume',
      );
    }
  };

  const send = async (batch: Batch): Promise<EmbeddingsResponse | undefined> => {
    if (batch.unique.length === 0) return undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        return await client.embeddings({
          model: options.model,
          input: batch.unique.map((r) => r.text),
          encoding_format: options.wire,
          ...(options.dimensions ? { dimensions: options.dimensions } : {}),
        });
      } catch (error) {
        if (!isRetriable(error) || attempt >= options.retries) throw error;
        const advised = (error as CliError).details?.retryAfterMs;
        const waitMs = typeof advised === 'number' ? advised : backoffMs(attempt, 500, 30_000);
        stats.retries++;
        options.onRetry?.({ batch: batch.index, attempt: attempt + 1, waitMs, reason: (error as Error).message });
        await sleep(waitMs, options.signal);
        stopIfInterrupted();
      }
    }
  };

  const write = async (batch: Batch, response: EmbeddingsResponse | undefined) => {
    const vectors = new Map<number, string>();
    if (response) {
      if (response.data.length !== batch.unique.length) {
        throw new CliError(
          `the gateway returned ${response.data.length} vectors for ${batch.unique.length} inputs`,
          ExitCode.failure,
        );
      }
      if (stats.model !== undefined && response.model !== stats.model) {
        throw new CliError(
          `the gateway answered with model '${response.model}' after '${stats.model}' (batch ${batch.index}, from ` +
            `record ${batch.records[0]!.position}): ` +
            'vectors of two models cannot share an output, so the run stopped before writing any of them',
          ExitCode.failure,
          'pin a versioned model (--model entity/model), check the routing (`embctl logs list --resolved-model …`), ' +
            'then rerun: it resumes where it stopped',
        );
      }
      for (const item of response.data) {
        const { text, dimensions } = serialize(item.embedding, options.vectorFormat);
        if (stats.dimensions !== undefined && dimensions !== stats.dimensions) {
          throw new CliError(
            `the gateway returned a ${dimensions}-dimension vector after ${stats.dimensions}-dimension ones`,
            ExitCode.failure,
          );
        }
        stats.dimensions ??= dimensions;
        vectors.set(batch.unique[item.index]!.position, text);
      }
      if (!begun) {
        sink.begin(response.model, stats.dimensions!);
        begun = true;
      }
      stats.model = response.model;
      stats.tokens += response.usage.prompt_tokens;
      stats.embedded += batch.unique.length;
    }
    // A copy's original is in this batch, or already written (batches are written in order).
    const records: OutputRecord[] = [];
    for (const record of batch.records as PlannedRecord[])
      records.push({
        position: record.position,
        id: record.id,
        text: record.text,
        embedding:
          vectors.get(record.position) ?? vectors.get(record.copyOf!) ?? (await sink.embeddingAt(record.copyOf!)),
        ...(record.metadata ? { metadata: record.metadata } : {}),
      });
    await sink.write(records);
    stats.records += records.length;
    stats.batches++;
    options.onProgress?.(stats);
  };

  // In flight, by batch index; written strictly in index order.
  const inFlight = new Map<number, { batch: Batch; response: Promise<EmbeddingsResponse | undefined> }>();
  let nextToWrite = 0;
  const writeNext = async () => {
    const { batch, response } = inFlight.get(nextToWrite)!;
    inFlight.delete(nextToWrite++);
    let answered: EmbeddingsResponse | undefined;
    try {
      // A batch still in flight when Ctrl-C comes is dropped: a resumed run sends it again.
      answered = await untilAborted(response, options.signal);
    } catch (error) {
      stopIfInterrupted();
      throw error;
    }
    await write(batch, answered);
  };
  for await (const batch of batches) {
    stopIfInterrupted();
    const response = send(batch);
    // Awaited in order below; until then a failure must not surface as an unhandled rejection.
    response.catch(() => undefined);
    inFlight.set(batch.index, { batch, response });
    while (inFlight.size >= options.concurrency) await writeNext();
  }
  while (inFlight.size > 0) await writeNext();
  return stats;
}
