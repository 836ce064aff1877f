/**
 * Reusable buffers for response bodies. A 16 × 1536 base64 body is ~130 kB outside the V8 heap;
 * allocated fresh per request, that memory is only freed when a collection finds the Buffer dead,
 * and between collections tens of megabytes of it pile up in the allocator (measured with
 * heaptrack: ~16 MB of response bodies alive at the peak of the bench's load). A body leased from
 * here goes back when Node has handed all of it to the kernel ('finish'); one whose response never
 * finishes (client gone) is simply not returned, and the garbage collector takes it.
 */

export interface Lease {
  /** Exactly the size asked for. */
  buffer: Buffer;
  /** Returns the memory for reuse; call once nothing can read `buffer` any more. Idempotent. */
  release: () => void;
}

const MIN_CLASS = 16 * 1024;
/** Larger leases are not pooled (the serializer streams bodies over 1 MB, so it never asks for one). */
const MAX_CLASS = 4 * 1024 * 1024;

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private retained = 0;

  /** `maxRetainedBytes` bounds what the pool keeps when load drops. */
  constructor(private readonly maxRetainedBytes = 16 * 1024 * 1024) {}

  lease(size: number): Lease {
    if (size > MAX_CLASS) return { buffer: Buffer.allocUnsafeSlow(size), release: () => undefined };
    let capacity = MIN_CLASS;
    while (capacity < size) capacity *= 2;
    const pooled = this.free.get(capacity)?.pop();
    if (pooled) this.retained -= capacity;
    const whole = pooled ?? Buffer.allocUnsafeSlow(capacity);
    let returned = false;
    return {
      buffer: whole.subarray(0, size),
      release: () => {
        if (returned) return;
        returned = true;
        this.give(whole);
      },
    };
  }

  private give(whole: Buffer): void {
    if (this.retained + whole.length > this.maxRetainedBytes) return;
    let list = this.free.get(whole.length);
    if (!list) this.free.set(whole.length, (list = []));
    list.push(whole);
    this.retained += whole.length;
  }
}
