/** The bound on upstream bytes held at once: small calls never wait, big ones queue in order, a departed caller leaves the queue. */
import { describe, expect, it } from 'vitest';
import { BodyBudget, BodyHold } from '../../src/gateway/body-budget.js';

const MB = 1024 * 1024;
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('BodyBudget', () => {
  it('lets small calls through at once and never counts them', async () => {
    const budget = new BodyBudget(8 * MB, MB);
    const release = await budget.acquire(MB - 1);
    expect(budget.usedBytes).toBe(0);
    release();
  });

  it('queues big calls first come first served until their bytes fit, and releases once', async () => {
    const budget = new BodyBudget(10 * MB, MB);
    const first = await budget.acquire(6 * MB);
    const second = budget.acquire(6 * MB);
    const third = budget.acquire(2 * MB);
    // The third would fit, but waits behind the second: no starvation of big calls.
    expect(await settled(second)).toBe(false);
    expect(await settled(third)).toBe(false);
    expect(budget.waiting).toBe(2);
    first();
    first();
    expect(budget.usedBytes).toBe(8 * MB);
    (await second)();
    (await third)();
    expect(budget.usedBytes).toBe(0);
    expect(budget.waiting).toBe(0);
  });

  it('lets a call larger than the whole budget go alone', async () => {
    const budget = new BodyBudget(4 * MB, MB);
    const huge = await budget.acquire(40 * MB);
    const next = budget.acquire(2 * MB);
    expect(await settled(next)).toBe(false);
    huge();
    (await next)();
  });

  it('a caller that leaves while waiting gives up its place, and the next one gets it', async () => {
    const budget = new BodyBudget(4 * MB, MB);
    const held = await budget.acquire(3 * MB);
    const gone = new AbortController();
    const leaving = budget.acquire(3 * MB, gone.signal);
    const staying = budget.acquire(1 * MB);
    gone.abort(new Error('client closed'));
    await expect(leaving).rejects.toThrow('client closed');
    // 3 + 1 fit once the departed caller is out of the way.
    expect(await settled(staying)).toBe(true);
    held();
    expect(budget.usedBytes).toBe(MB);
  });

  it('a call takes its share once for all its parts, and gives it back when its response is over', async () => {
    const budget = new BodyBudget(10 * MB, MB);
    const hold = new BodyHold(budget, 6 * MB);
    const never = new AbortController().signal;
    await Promise.all([hold.take(never), hold.take(never), hold.take(never)]);
    expect(budget.usedBytes).toBe(6 * MB);
    hold.end();
    hold.end();
    expect(budget.usedBytes).toBe(0);
  });

  it('a call whose response ends while it waits leaves the queue and holds nothing', async () => {
    const budget = new BodyBudget(4 * MB, MB);
    const first = new BodyHold(budget, 3 * MB);
    await first.take(new AbortController().signal);
    const second = new BodyHold(budget, 3 * MB);
    const waiting = second.take(new AbortController().signal);
    second.end();
    await expect(waiting).rejects.toThrow('the response is over');
    first.end();
    expect(budget.usedBytes).toBe(0);
    expect(budget.waiting).toBe(0);
  });

  it("copies an answer's chunks into pooled slabs, and reuses them only after a response was sent", async () => {
    const budget = new BodyBudget(8 * MB, MB);
    const chunksOf = (hold: BodyHold, answer: Buffer) => {
      const chunks: Buffer[] = [];
      const keep = hold.collector(chunks);
      // Socket-sized pieces, the last one straddling a slab boundary.
      for (let at = 0; at < answer.length; at += 65_000) keep(answer.subarray(at, at + 65_000));
      return chunks;
    };
    const answer = Buffer.alloc(MB + 12_345, 'a');
    const first = new BodyHold(budget, 2 * MB);
    await first.take(new AbortController().signal);
    const chunks = chunksOf(first, answer);
    // One view per slab filled, together exactly the answer, none of them the socket's Buffers.
    expect(chunks.length).toBe(3);
    expect(Buffer.concat(chunks).equals(answer)).toBe(true);
    first.end(true);

    const second = new BodyHold(budget, 2 * MB);
    await second.take(new AbortController().signal);
    const reused = chunksOf(second, Buffer.alloc(MB + 12_345, 'b'));
    // The first answer's slabs, now holding the second answer's bytes (compared as booleans: a
    // failing comparison of two 512 kB buffers would take minutes to print).
    const slabsOf = (views: Buffer[]) => new Set(views.map((view) => view.buffer));
    expect([...slabsOf(reused)].every((slab) => slabsOf(chunks).has(slab))).toBe(true);
    expect(reused.every((chunk) => chunk.every((byte) => byte === 0x62))).toBe(true);
    // Cut short: writes may still read them, so they are not reused.
    second.end(false);
    const third = new BodyHold(budget, 2 * MB);
    await third.take(new AbortController().signal);
    const fresh = chunksOf(third, answer);
    expect([...slabsOf(fresh)].some((slab) => slabsOf(reused).has(slab))).toBe(false);
    third.end(true);
  });

  it('an answer still arriving after its response is over goes to memory of its own', () => {
    const budget = new BodyBudget(8 * MB, MB);
    const hold = new BodyHold(budget, 2 * MB);
    hold.end(true);
    const chunks: Buffer[] = [];
    hold.collector(chunks)(Buffer.from('late'));
    expect(chunks.map(String)).toEqual(['late']);
    const pooled = budget.slabs.lease(512 * 1024);
    expect(pooled.buffer.buffer === chunks[0]!.buffer).toBe(false);
  });

  it('gives copies of straddling vectors room in its slabs, handed back with the rest', async () => {
    const budget = new BodyBudget(8 * MB, MB);
    const hold = new BodyHold(budget, 2 * MB);
    const pieces = [hold.spill(33_000), hold.spill(33_000)];
    // Side by side in one slab, not overlapping.
    expect(pieces[0]!.buffer === pieces[1]!.buffer).toBe(true);
    expect(pieces[1]!.byteOffset - pieces[0]!.byteOffset).toBe(33_000);
    hold.end(true);
    expect(budget.slabs.lease(512 * 1024).buffer.buffer === pieces[0]!.buffer).toBe(true);
  });
});
