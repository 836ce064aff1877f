/**
 * One HTTP exchange with an upstream on undici's dispatcher API: the answer's head as a promise,
 * its body pushed chunk by chunk to the reader, no stream and no async resource in between.
 * undici's `request()` wraps the same dispatch in a Readable and an AsyncResource: ~40 µs of CPU per
 * call on this machine (README, "Gateway performance").
 */
import type { Dispatcher } from 'undici';
import type { OutgoingRequest } from './credentials/types.js';

export interface ExchangeOptions {
  /** Milliseconds to wait for the answer's head, and between two pieces of its body. */
  timeout: number;
  /** Aborts the exchange when it emits `abort` (undici's errors then become this reason). */
  abortOn: { aborted: boolean; reason: unknown; once(event: 'abort', listener: (reason: unknown) => void): unknown };
}

export interface UpstreamAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * Reads the body, each chunk through `keep`. Past `limit` bytes the exchange is aborted and the
   * promise resolves false; true once the body is whole. Until it is called the socket is paused:
   * the upstream's bytes wait in the kernel.
   */
  read(limit: number, keep: (chunk: Buffer) => void): Promise<boolean>;
  /** Leaves the rest unread: the connection is closed rather than handed back half read, a read under way fails. */
  discard(): void;
}

class Exchange implements Dispatcher.DispatchHandler, UpstreamAnswer {
  statusCode = 0;
  headers: Record<string, string | string[] | undefined> = {};
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: unknown;
  private done = false;
  private failure: Error | undefined;
  private received = 0;
  private limit = 0;
  /** Set by `read`: undici's parser stops at the pause in `onResponseStart`, so no chunk comes before it. */
  private keep: ((chunk: Buffer) => void) | undefined;
  private settleHead: [(answer: UpstreamAnswer) => void, (error: Error) => void] | undefined;
  private settleBody: [(whole: boolean) => void, (error: Error) => void] | undefined;

  constructor(resolve: (answer: UpstreamAnswer) => void, reject: (error: Error) => void) {
    this.settleHead = [resolve, reject];
  }

  abort(reason: unknown): void {
    if (this.controller) this.controller.abort(reason as Error);
    else this.abortReason ??= reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason !== undefined) controller.abort(this.abortReason as Error);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: UpstreamAnswer['headers'],
  ): void {
    if (statusCode < 200) return; // 1xx: the answer's head is still to come
    this.statusCode = statusCode;
    this.headers = headers;
    controller.pause();
    const settle = this.settleHead!;
    this.settleHead = undefined;
    settle[0](this);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.done) this.take(chunk);
  }

  onResponseEnd(): void {
    this.done = true;
    const settle = this.settleBody;
    this.settleBody = undefined;
    settle?.[0](true);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    const settle = this.settleHead ?? this.settleBody;
    this.settleHead = this.settleBody = undefined;
    settle?.[1](error);
  }

  read(limit: number, keep: (chunk: Buffer) => void): Promise<boolean> {
    this.limit = limit;
    this.keep = keep;
    if (this.done) return this.failure ? Promise.reject(this.failure) : Promise.resolve(true);
    return new Promise((resolve, reject) => {
      this.settleBody = [resolve, reject];
      this.controller!.resume();
    });
  }

  discard(): void {
    if (this.done) return;
    this.done = true;
    const settle = this.settleBody;
    this.settleBody = undefined;
    const reason = new Error('The answer was left unread');
    this.controller?.abort(reason);
    settle?.[1](reason);
  }

  /** Hands a chunk to the reader; past the limit, the body is discarded and the read answers false. */
  private take(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received <= this.limit) {
      this.keep!(chunk);
      return;
    }
    const settle = this.settleBody;
    this.settleBody = undefined;
    this.discard();
    settle?.[0](false);
  }
}

/** Sends `outgoing` through `pool`; resolves with the answer's head, its body still unread. */
export function exchange(
  pool: Dispatcher,
  outgoing: OutgoingRequest,
  options: ExchangeOptions,
): Promise<UpstreamAnswer> {
  return new Promise((resolve, reject) => {
    const handler = new Exchange(resolve, reject);
    if (options.abortOn.aborted) return reject(options.abortOn.reason as Error);
    options.abortOn.once('abort', (reason) => handler.abort(reason));
    const url = new URL(outgoing.url);
    pool.dispatch(
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: outgoing.method,
        headers: outgoing.headers,
        body: outgoing.body,
        headersTimeout: options.timeout,
        bodyTimeout: options.timeout,
      },
      handler,
    );
  });
}
