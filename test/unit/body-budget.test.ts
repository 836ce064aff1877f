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

  it('a call takes its share once for all its parts, and gives it back once its call and response are over', async () => {
    const budget = new BodyBudget(10 * MB, MB);
    const hold = new BodyHold(budget, 6 * MB);
    const never = new AbortController().signal;
    await Promise.all([hold.take(never), hold.take(never), hold.take(never)]);
    expect(budget.usedBytes).toBe(6 * MB);
    hold.callEnded();
    expect(budget.usedBytes).toBe(6 * MB); // the response is still written from the held bytes
    hold.responseEnded();
    hold.responseEnded();
    expect(budget.usedBytes).toBe(0);
  });

  it('a caller that left keeps the share while its call still reads', async () => {
    const budget = new BodyBudget(4 * MB, MB);
    const hold = new BodyHold(budget, 3 * MB);
    await hold.take(new AbortController().signal);
    hold.responseEnded();
    const next = new BodyHold(budget, 3 * MB);
    const waiting = next.take(new AbortController().signal);
    expect(await settled(waiting)).toBe(false);
    hold.callEnded();
    expect(await settled(waiting)).toBe(true);
    next.responseEnded();
    next.callEnded();
    expect(budget.usedBytes).toBe(0);
  });

  it('a call whose response ends while it waits, or before it asks, leaves the queue and holds nothing', async () => {
    const budget = new BodyBudget(4 * MB, MB);
    const first = new BodyHold(budget, 3 * MB);
    await first.take(new AbortController().signal);
    const second = new BodyHold(budget, 3 * MB);
    const waiting = second.take(new AbortController().signal);
    second.responseEnded();
    await expect(waiting).rejects.toThrow('the response is over');
    const late = new BodyHold(budget, 3 * MB);
    late.responseEnded();
    await expect(late.take(new AbortController().signal)).rejects.toThrow('the response is over');
    for (const hold of [first, second, late]) {
      hold.callEnded();
      hold.responseEnded();
    }
    expect(budget.usedBytes).toBe(0);
    expect(budget.waiting).toBe(0);
  });

  const chunksOf = (hold: BodyHold, answer: Buffer) => {
    const chunks: Buffer[] = [];
    const keep = hold.collector(chunks);
    // Socket-sized pieces, the last one straddling a slab boundary.
    for (let at = 0; at < answer.length; at += 65_000) keep(answer.subarray(at, at + 65_000));
    return chunks;
  };
  const slabsOf = (views: Buffer[]) => new Set(views.map((view) => view.buffer));
  const over = (hold: BodyHold) => {
    hold.callEnded();
    hold.responseEnded();
  };

  it("copies an answer's chunks into pooled slabs, reused by the next answer once call and response are over", async () => {
    const budget = new BodyBudget(8 * MB, MB);
    const answer = Buffer.alloc(MB + 12_345, 'a');
    const first = new BodyHold(budget, 2 * MB);
    await first.take(new AbortController().signal);
    const chunks = chunksOf(first, answer);
    // One view per slab filled, together exactly the answer, none of them the socket's Buffers.
    expect(chunks.length).toBe(3);
    expect(Buffer.concat(chunks).equals(answer)).toBe(true);
    over(first);

    const second = new BodyHold(budget, 2 * MB);
    await second.take(new AbortController().signal);
    const reused = chunksOf(second, Buffer.alloc(MB + 12_345, 'b'));
    // The first answer's slabs, now holding the second answer's bytes (compared as booleans: a
    // failing comparison of two 512 kB buffers would take minutes to print).
    expect([...slabsOf(reused)].every((slab) => slabsOf(chunks).has(slab))).toBe(true);
    expect(reused.every((chunk) => chunk.every((byte) => byte === 0x62))).toBe(true);
    over(second);
  });

  it('never lends the slabs of a call still reading, though its caller left', async () => {
    const budget = new BodyBudget(8 * MB, MB);
    const leaving = new BodyHold(budget, 2 * MB);
    await leaving.take(new AbortController().signal);
    const keep = leaving.collector([]);
    keep(Buffer.alloc(100_000, 'a'));
    leaving.responseEnded();
    // The upstream's answer goes on arriving into the slab it started.
    const other = new BodyHold(budget, 2 * MB);
    const others = chunksOf(other, Buffer.alloc(MB, 'b'));
    keep(Buffer.alloc(100_000, 'c'));
    expect(others.every((chunk) => chunk.every((byte) => byte === 0x62))).toBe(true);
    leaving.callEnded();
    // Now its slab goes back, and is lent again.
    const after = chunksOf(new BodyHold(budget, 2 * MB), Buffer.alloc(1000, 'd'));
    expect([...slabsOf(after)].some((slab) => slabsOf(others).has(slab))).toBe(false);
    over(other);
  });

  it('gives copies of straddling vectors room in its slabs, handed back with the rest', async () => {
    const budget = new BodyBudget(8 * MB, MB);
    const hold = new BodyHold(budget, 2 * MB);
    const pieces = [hold.spill(33_000), hold.spill(33_000)];
    // Side by side in one slab, not overlapping.
    expect(pieces[0]!.buffer === pieces[1]!.buffer).toBe(true);
    expect(pieces[1]!.byteOffset - pieces[0]!.byteOffset).toBe(33_000);
    over(hold);
    expect(budget.slabs.lease(512 * 1024).buffer.buffer === pieces[0]!.buffer).toBe(true);
  });
});
