/**
 * The request-log pipeline. `record` only pushes to memory: the request's critical path never
 * waits on the database. A flush every `flushMs` (or when `batchSize` rows wait) writes them in one
 * transaction, then hands the stored rows (with their `seq`) to live subscribers (the SSE stream).
 * Shutdown flushes everything; a crash loses at most the rows of the last `flushMs` plus the time
 * a flush and a busy event loop take (100 ms is the bound README states for the default 50 ms).
 */
import type { RequestLogRow, StoredLogRow } from '../core/request-log.js';
import type { RequestLogStore } from '../store/store.js';

export interface PipelineOptions {
  flushMs: number;
  batchSize: number;
  /** Rows kept while the store refuses writes; beyond this the oldest are dropped (and counted). */
  maxBuffered: number;
  onError: (message: string) => void;
}

export const DEFAULT_PIPELINE: Omit<PipelineOptions, 'onError'> = { flushMs: 50, batchSize: 500, maxBuffered: 100_000 };

type Listener = (rows: StoredLogRow[]) => void;

export class RequestLogPipeline {
  private buffer: RequestLogRow[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly closeListeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  dropped = 0;

  constructor(
    private readonly store: RequestLogStore,
    private readonly options: PipelineOptions,
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushMs);
    this.timer.unref();
  }

  record(row: RequestLogRow): void {
    this.buffer.push(row);
    if (this.buffer.length > this.options.maxBuffered) {
      const excess = this.buffer.length - this.options.maxBuffered;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.options.batchSize) void this.flush();
  }

  /** Live rows after they are stored; returns the unsubscribe function. */
  subscribe(listener: Listener, onClose: () => void): () => void {
    this.listeners.add(listener);
    this.closeListeners.add(onClose);
    return () => {
      this.listeners.delete(listener);
      this.closeListeners.delete(onClose);
    };
  }

  /** Writes what is buffered; flushes are serialised so rows keep their order. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.buffer.length === 0) return;
      const batch = this.buffer;
      this.buffer = [];
      let stored: StoredLogRow[];
      try {
        stored = await this.store.append(batch);
      } catch (error) {
        // Keep the rows for the next flush rather than lose them to a busy or full disk.
        this.buffer = batch.concat(this.buffer);
        this.options.onError(
          `request log flush failed, ${batch.length} row(s) kept for retry: ${(error as Error).message}`,
        );
        return;
      }
      for (const listener of this.listeners) listener(stored);
    });
    return this.flushing;
  }

  /** Ends live streams (so the server can close), then flushes what is left. */
  endStreams(): void {
    for (const onClose of this.closeListeners) onClose();
    this.listeners.clear();
    this.closeListeners.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.endStreams();
    await this.flush();
  }
}

/** Deletes logs beyond the retention age or row count, at start and then periodically. */
export function startRetention(
  store: RequestLogStore,
  retention: { maxAgeMs: number; maxRows: number; everyMs: number },
  onError: (m: string) => void,
): () => void {
  const prune = () =>
    store
      .prune(Date.now() - retention.maxAgeMs, retention.maxRows)
      .catch((error: unknown) => onError(`request log retention failed: ${(error as Error).message}`));
  void prune();
  const timer = setInterval(() => void prune(), retention.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
