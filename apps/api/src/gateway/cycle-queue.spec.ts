import { CycleQueue } from './cycle-queue.js';

/** A run that records its batches and finishes when the test says so. */
function controlled() {
  const batches: number[][] = [];
  const finish: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run = async (items: number[]) => {
    batches.push(items);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise<void>((resolve) => finish.push(resolve));
    inFlight -= 1;
    if (items.includes(-1)) throw new Error('bad item');
    return items.map((i) => i * 10);
  };
  return { run, batches, finish, max: () => maxInFlight };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('CycleQueue', () => {
  it('runs the items of one turn together, and those that arrive meanwhile in the next cycle, at most `depth` at once per key', async () => {
    const c = controlled();
    const q = new CycleQueue<number, number>(c.run, 2);
    const first = [1, 2, 3].map((i) => q.submit('a', i));
    await turn();
    expect(c.batches).toEqual([[1, 2, 3]]);
    const second = [4, 5].map((i) => q.submit('a', i));
    await turn();
    expect(c.batches).toEqual([[1, 2, 3], [4, 5]]);
    const third = [6, 7].map((i) => q.submit('a', i));
    await turn();
    // Two cycles in flight: the third waits.
    expect(c.batches).toHaveLength(2);
    c.finish.shift()!();
    expect(await Promise.all(first)).toEqual([10, 20, 30]);
    await turn();
    expect(c.batches[2]).toEqual([6, 7]);
    c.finish.shift()!();
    c.finish.shift()!();
    expect(await Promise.all([...second, ...third])).toEqual([40, 50, 60, 70]);
    expect(c.max()).toBe(2);
    await turn();
    expect(q.busyKeys).toBe(0);
  });

  it('with depth 1, one cycle per key at a time; other keys never wait', async () => {
    const c = controlled();
    const q = new CycleQueue<number, number>(c.run, 1);
    const a1 = q.submit('a', 1);
    await turn();
    const a2 = q.submit('a', 2);
    const b1 = q.submit('b', 3);
    await turn();
    expect(c.batches).toEqual([[1], [3]]);
    c.finish.shift()!();
    c.finish.shift()!();
    expect(await Promise.all([a1, b1])).toEqual([10, 30]);
    await turn();
    expect(c.batches[2]).toEqual([2]);
    c.finish.shift()!();
    expect(await a2).toBe(20);
  });

  it('a cycle that fails runs each of its items alone: only the bad one fails', async () => {
    const q = new CycleQueue<number, number>(async (items) => {
      if (items.includes(-1)) throw new Error('bad item');
      return items.map((i) => i * 10);
    }, 2);
    const results = await Promise.allSettled([1, -1, 2].map((i) => q.submit('a', i)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([10, 'rejected', 20]);
  });
});
