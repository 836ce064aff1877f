import type { EmbeddingsRequest } from '../core/embeddings-request.js';
import type { EmbeddingModelEntity } from '../core/entity.js';
import { BufferPool, type Lease } from './buffer-pool.js';

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

/** Held answers are copied into slabs of this size: a 1536-float vector (~32 kB) straddles two in one case of 16. */
const SLAB = 512 * 1024;

/**
 * One call's share of the budget: taken once, when the first of its upstream answers arrives (its
 * headers: until then no byte is held, however long the upstream takes), by that part for all of
 * the call's parts, so no call holds a share while waiting for another (no deadlock). A wait for it
 * ends when the caller's response is over; the share and the memory go back once both the
 * response and the call are over, whichever ends last.
 *
 * The answers' bytes are copied out of the socket's Buffers into slabs leased from the budget's
 * pool, and reused once nothing can touch them: the response is over (handed to the kernel, or its
 * socket closed, so no write is left that reads them) and the call is over (no upstream read is
 * left that writes them, no parse that reads them). The socket's Buffers then die young, and the
 * slabs are reused: left where the socket put them, a response's 8 MB lived long enough to reach
 * V8's old generation and piled up dead there, tens of megabytes, until a full collection; so did
 * the slabs of every response cut short, until they too were reused.
 */
export class BodyHold {
  private taking: Promise<void> | undefined;
  private release: (() => void) | undefined;
  /** Aborted when the caller's response is over. */
  private readonly over = new AbortController();
  private callOver = false;
  private readonly leases: Lease[] = [];
  /** Where copies of vectors that straddle two slabs go: the rest of a slab of their own. */
  private spilled: Buffer | undefined;
  private spillAt = 0;

  constructor(
    private readonly budget: BodyBudget,
    private readonly bytes: number,
  ) {}

  /** Resolves once the call's bytes fit; `signal` (the attempt's deadline) gives up waiting, as does the response's end. */
  take(signal: AbortSignal): Promise<void> {
    this.taking ??= this.budget.acquire(this.bytes, AbortSignal.any([signal, this.over.signal])).then((release) => {
      this.release = release;
      // Granted in the turn its caller left (another departure made room): nothing to read for.
      if (this.ended) throw this.over.signal.reason;
    });
    return this.taking;
  }

  get ended(): boolean {
    return this.over.signal.aborted;
  }

  /**
   * Discards `answer` if the caller's response ends while it is read (megabytes for nobody; the
   * upstream bills it either way). Returns the function that stops watching.
   */
  watch(answer: { discard(): void }): () => void {
    const stop = () => answer.discard();
    this.over.signal.addEventListener('abort', stop, { once: true });
    return () => this.over.signal.removeEventListener('abort', stop);
  }

  /**
   * Where one answer's bytes are kept: each chunk given to the returned function is copied into the
   * hold's slabs, and `chunks` gets views of the copies (one per slab the answer fills).
   */
  collector(chunks: Buffer[]): (chunk: Buffer) => void {
    let slab: Buffer | undefined;
    let at = 0;
    return (chunk) => {
      for (let from = 0; from < chunk.length; ) {
        if (slab === undefined || at === slab.length) {
          slab = this.slab();
          at = 0;
          chunks.push(slab.subarray(0, 0));
        }
        const copied = chunk.copy(slab, at, from);
        at += copied;
        from += copied;
        chunks[chunks.length - 1] = slab.subarray(0, at);
      }
    };
  }

  /**
   * `size` bytes of the hold's memory, for the copy of a vector that straddles two slabs: made
   * outside it, such copies (one vector in 16) would live as long as the response, long enough to
   * be promoted, and pile up in the old generation as the socket's Buffers did.
   */
  spill(size: number): Buffer {
    if (size > SLAB) return Buffer.allocUnsafe(size);
    if (this.spilled === undefined || this.spillAt + size > this.spilled.length) {
      this.spilled = this.slab();
      this.spillAt = 0;
    }
    this.spillAt += size;
    return this.spilled.subarray(this.spillAt - size, this.spillAt);
  }

  private slab(): Buffer {
    const lease = this.budget.slabs.lease(SLAB);
    this.leases.push(lease);
    return lease.buffer;
  }

  /** The caller's response is over (sent, or the caller left): a wait for room ends. */
  responseEnded(): void {
    this.over.abort(new Error('the response is over'));
    this.freeIfUnused();
  }

  /** The call is over (its reads, parses and copies of the held bytes are done). */
  callEnded(): void {
    this.callOver = true;
    this.freeIfUnused();
  }

  private freeIfUnused(): void {
    if (!this.callOver || !this.ended) return;
    this.release?.();
    this.release = undefined;
    for (const lease of this.leases) lease.release();
    this.leases.length = 0;
    this.spilled = undefined;
  }
}

/**
 * A bound on the upstream response bytes the gateway holds at once. A 256 × 1536 float answer is
 * ~8 MB, kept (as the bytes received, which the response to the caller is written from) until the
 * caller has it all: 32 of them in flight would be 250 MB. Calls expected to bring more than
 * `minBytes` back wait here, first come first served, until their estimate fits in `limitBytes`; a
 * call larger than the whole budget goes alone. The CPU, not the number of bodies in flight, bounds
 * the throughput of such calls, so waiting costs little (bench:compare, 256 × 1536 float: 32 MB as
 * fast as 64 within the noise, 16 MB about 10 % slower); small calls never wait. Per gateway process.
 */
export class BodyBudget {
  private used = 0;
  private readonly queue: { bytes: number; grant: () => void }[] = [];
  /** Calls waiting now (read by /metrics). */
  waiting = 0;
  /** The memory held answers are copied into, reused; it keeps at most the budget's worth when idle. */
  readonly slabs: BufferPool;

  constructor(
    readonly limitBytes: number,
    readonly minBytes = 1024 * 1024,
  ) {
    this.slabs = new BufferPool(limitBytes);
  }

  get usedBytes(): number {
    return this.used;
  }

  /**
   * Resolves with the release once `bytes` fit; `signal` (the caller left) gives up the place in
   * the queue. Small calls resolve at once with a release that does nothing.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    if (bytes < this.minBytes) return Promise.resolve(noop);
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
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
