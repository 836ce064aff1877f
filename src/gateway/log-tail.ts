/**
 * The source of the live Request Log stream: the store, read in `seq` order. Rows written by every
 * gateway on the store arrive, each once and in order, because `seq` follows commit order in both
 * engines. One poll loop per gateway runs while anyone listens; this gateway's own flushes wake it
 * at once, so its rows show within the flush interval and other gateways' within `pollMs` more.
 */
import type { StoredLogRow } from '../core/request-log.js';
import type { RequestLogStore } from '../store/store.js';

type Listener = (rows: StoredLogRow[]) => void;

export const TAIL_POLL_MS = 200;
const PAGE = 1000;

export class LogTail {
  private readonly listeners = new Map<Listener, () => void>();
  private cursor: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private pollAgain = false;

  constructor(
    private readonly logs: RequestLogStore,
    private readonly onError: (message: string) => void,
    private readonly pollMs = TAIL_POLL_MS,
  ) {}

  /**
   * Rows stored from now on, in `seq` order; `onEnd` runs when the gateway shuts down. Resolves,
   * with the unsubscribe, once "now" is known: a row stored after that is delivered.
   */
  async subscribe(listener: Listener, onEnd: () => void): Promise<() => void> {
    this.cursor ??= await this.newestSeq();
    this.listeners.set(listener, onEnd);
    if (!this.timer) {
      this.timer = setInterval(() => this.wake(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Reads what is new now (this gateway just stored rows), rather than at the next tick. */
  wake(): void {
    if (this.listeners.size === 0) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.poll()
      .catch((error: unknown) => this.onError(`live log stream: ${(error as Error).message}`))
      .finally(() => {
        this.polling = undefined;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.wake();
        }
      });
  }

  private async newestSeq(): Promise<number> {
    return (await this.logs.page({}, 1)).rows[0]?.seq ?? 0;
  }

  private async poll(): Promise<void> {
    this.cursor ??= await this.newestSeq();
    for (;;) {
      const rows = await this.logs.after({}, this.cursor, PAGE);
      if (rows.length === 0) return;
      this.cursor = rows[rows.length - 1]!.seq;
      for (const listener of this.listeners.keys()) listener(rows);
      if (rows.length < PAGE) return;
    }
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    // The next subscriber starts from the newest row again, not from where this one left off.
    this.cursor = undefined;
  }

  /** Ends every stream (the server can close), and stops polling. */
  end(): void {
    for (const onEnd of this.listeners.values()) onEnd();
    this.listeners.clear();
    this.stop();
  }
}
