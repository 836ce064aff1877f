import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/gateway/buffer-pool.js';

describe('BufferPool', () => {
  it('lends exactly the size asked, and reuses memory only after it is released', () => {
    const pool = new BufferPool();
    const first = pool.lease(100_000);
    expect(first.buffer.length).toBe(100_000);
    first.buffer.fill(1);
    const second = pool.lease(100_000);
    expect(second.buffer.buffer).not.toBe(first.buffer.buffer); // still lent: never shared
    first.release();
    first.release(); // idempotent: returned once
    const third = pool.lease(90_000);
    expect(third.buffer.buffer).toBe(first.buffer.buffer); // same size class, reused
    expect(third.buffer.length).toBe(90_000);
    // the double release did not return it twice
    expect(pool.lease(90_000).buffer.buffer).not.toBe(first.buffer.buffer);
  });

  it('keeps no more than its bound when load drops', () => {
    const pool = new BufferPool(256 * 1024);
    const leases = Array.from({ length: 8 }, () => pool.lease(100_000)); // 128 kB class
    for (const lease of leases) lease.release();
    const again = Array.from({ length: 8 }, () => pool.lease(100_000));
    const reused = again.filter((lease) => leases.some((old) => old.buffer.buffer === lease.buffer.buffer));
    expect(reused).toHaveLength(2);
  });

  it('hands out very large bodies fresh, outside the pool', () => {
    const pool = new BufferPool();
    const big = pool.lease(5 * 1024 * 1024);
    big.release();
    expect(pool.lease(5 * 1024 * 1024).buffer.buffer).not.toBe(big.buffer.buffer);
  });
});
