import type { EmbeddingsRequest } from '../core/embeddings-request.js';
import type { EmbeddingModelEntity } from '../core/entity.js';

/** Bytes of JSON per vector value an upstream sends: a printed float, or base64 of 4 bytes. */
const BYTES_PER_VALUE = { float: 20, base64: 6 } as const;
/** When neither the request nor the entity says how long the vectors are: the most common size. */
const TYPICAL_DIMENSIONS = 1536;

/** What the upstream's answers to `request` should weigh in all; 0 for providers computed in-process. */
export function expectedUpstreamBytes(request: EmbeddingsRequest, entity: EmbeddingModelEntity): number {
  if (entity.provider === 'local') return 0;
  const dimensions = request.dimensions ?? entity.dimensions ?? TYPICAL_DIMENSIONS;
  return request.inputs.length * dimensions * BYTES_PER_VALUE[request.encodingFormat];
}

/**
 * One call's share of the budget: taken once, when the first of its upstream answers arrives (its
 * headers: until then no byte is held, however long the upstream takes), by that part for all of
 * the call's parts, so no call holds a share while waiting for another (no deadlock); given back
 * when the caller's response is over. Parts that arrive while it is being taken wait with it.
 */
export class BodyHold {
  private taking: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private readonly over = new AbortController();

  constructor(
    private readonly budget: BodyBudget,
    private readonly bytes: number,
  ) {}

  /** Resolves once the call's bytes fit; `signal` (the attempt's deadline) gives up waiting. */
  take(signal: AbortSignal): Promise<void> {
    this.taking ??= this.budget.acquire(this.bytes, AbortSignal.any([signal, this.over.signal])).then((release) => {
      if (this.over.signal.aborted) release();
      else this.release = release;
    });
    return this.taking;
  }

  get ended(): boolean {
    return this.over.signal.aborted;
  }

  /** The caller's response is over (sent, or the caller left): the bytes go back, a wait ends. */
  end(): void {
    this.over.abort(new Error('the response is over'));
    this.release?.();
  }
}

/**
 * A bound on the upstream response bytes the gateway holds at once. A 256 × 1536 float answer is
 * ~8 MB, kept (as the bytes received, which the response to the caller is written from) until the
 * caller has it all: 32 of them in flight would be 250 MB. Calls expected to bring more than
 * `minBytes` back wait here, first come first served, until their estimate fits in `limitBytes`; a
 * call larger than the whole budget goes alone. The CPU, not the number of bodies in flight, bounds
 * the throughput of such calls, so waiting costs none; small calls never wait. Per gateway process.
 */
export class BodyBudget {
  private used = 0;
  private readonly queue: { bytes: number; grant: () => void }[] = [];
  /** Calls waiting now (read by /metrics). */
  waiting = 0;

  constructor(
    readonly limitBytes: number,
    readonly minBytes = 1024 * 1024,
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  /**
   * Resolves with the release once `bytes` fit; `signal` (the caller left) gives up the place in
   * the queue. Small calls resolve at once with a release that does nothing.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    if (bytes < this.minBytes) return Promise.resolve(noop);
    if (this.queue.length === 0 && this.fits(bytes)) return Promise.resolve(this.take(bytes));
    return new Promise((resolve, reject) => {
      const waiter = {
        bytes,
        grant: () => {
          signal?.removeEventListener('abort', leave);
          resolve(this.take(bytes));
        },
      };
      const leave = () => {
        const at = this.queue.indexOf(waiter);
        if (at !== -1) this.queue.splice(at, 1);
        this.waiting = this.queue.length;
        reject(signal!.reason);
        this.grantWaiting();
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.queue.push(waiter);
      this.waiting = this.queue.length;
    });
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limitBytes;
  }

  private take(bytes: number): () => void {
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.grantWaiting();
    };
  }

  private grantWaiting(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.bytes)) {
      this.queue.shift()!.grant();
      this.waiting = this.queue.length;
    }
  }
}

const noop = () => undefined;
