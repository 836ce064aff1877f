/**
 * The request-log pipeline. `record` only pushes to memory: the request's critical path never
 * waits on the database. A flush every `flushMs` (or when `batchSize` rows wait) writes them in one
 * transaction, then tells `onStored` (the live stream reads them back from the store, in order with
 * every other gateway's). While the store refuses writes, rows wait in memory up to `maxBuffered`;
 * beyond that the oldest are dropped and counted (`dropped`, in /metrics).
 * Shutdown flushes everything; a crash loses at most the rows of the last `flushMs` plus the time
 * a flush and a busy event loop take (100 ms is the bound README states for the default 50 ms).
 */
import type { RequestLogRow } from '../core/request-log.js';
import type { RequestLogStore, Store } from '../store/store.js';

export interface PipelineOptions {
  flushMs: number;
  batchSize: number;
  /** Rows kept while the store refuses writes; beyond this the oldest are dropped (and counted). */
  maxBuffered: number;
  onError: (message: string) => void;
  /** Called after rows were stored. */
  onStored?: () => void;
}

export const DEFAULT_PIPELINE: Omit<PipelineOptions, 'onError'> = { flushMs: 50, batchSize: 500, maxBuffered: 100_000 };

export class RequestLogPipeline {
  private buffer: RequestLogRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private failing = false;
  dropped = 0;

  get buffered(): number {
    return this.buffer.length;
  }

  constructor(
    private readonly store: RequestLogStore,
    private readonly options: PipelineOptions,
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushMs);
    this.timer.unref();
  }

  record(row: RequestLogRow): void {
    this.buffer.push(row);
    this.trim();
    if (this.buffer.length >= this.options.batchSize) void this.flush();
  }

  /** Beyond the bound the oldest rows go, counted. */
  private trim(): void {
    if (this.buffer.length <= this.options.maxBuffered) return;
    const excess = this.buffer.length - this.options.maxBuffered;
    this.buffer.splice(0, excess);
    this.dropped += excess;
  }

  /** Writes what is buffered; flushes are serialised so rows keep their order. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.buffer.length === 0) return;
      const batch = this.buffer;
      this.buffer = [];
      try {
        await this.store.append(batch);
      } catch (error) {
        // Keep the rows for the next flush rather than lose them to a busy disk or a database outage.
        this.buffer = batch.concat(this.buffer);
        this.trim();
        // Said once per outage, not at every flush.
        if (!this.failing)
          this.options.onError(
            `request log writes fail, rows are kept in memory (up to ${this.options.maxBuffered}) and retried: ` +
              (error as Error).message,
          );
        this.failing = true;
        return;
      }
      if (this.failing) this.options.onError('request log writes succeed again; the kept rows are stored');
      this.failing = false;
      this.options.onStored?.();
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }
}

/** Usage windows older than this are no limit's business any more (a month and its predecessor). */
const USAGE_WINDOW_KEEP_MS = 64 * 86_400_000;

/** Deletes logs beyond the retention age or row count, and spent usage windows, at start and then periodically. */
export function startRetention(
  store: Pick<Store, 'logs' | 'usage'>,
  retention: { maxAgeMs: number; maxRows: number; everyMs: number },
  onError: (m: string) => void,
): () => void {
  const prune = () =>
    Promise.all([
      store.logs.prune(Date.now() - retention.maxAgeMs, retention.maxRows),
      store.usage.prune(Date.now() - USAGE_WINDOW_KEEP_MS),
    ]).catch((error: unknown) => onError(`retention failed: ${(error as Error).message}`));
  void prune();
  const timer = setInterval(() => void prune(), retention.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
