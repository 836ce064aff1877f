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
});
