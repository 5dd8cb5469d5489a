import { KeyedGroupCommit } from './group-commit.js';

/** A run function that records each cycle and can be held open until released. */
function recorder() {
  const cycles: { items: string[]; release: () => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const run = async (items: string[]): Promise<string[]> => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((release) => cycles.push({ items: [...items], release }));
    running--;
    if (items.includes('boom')) throw new Error('cycle failed');
    return items.map((i) => `done:${i}`);
  };
  // Two turns of the event loop: a finished cycle schedules the next one a turn later.
  const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));
  return { cycles, run, settle, maxRunning: () => maxRunning };
}

describe('KeyedGroupCommit', () => {
  it('answers each unit with its own outcomes, in order, and merges units that arrive while a cycle runs', async () => {
    const r = recorder();
    const q = new KeyedGroupCommit<string, string>(r.run, 10);
    const first = q.submit('a', ['a1']);
    await r.settle();
    expect(r.cycles.map((c) => c.items)).toEqual([['a1']]);
    // Three units arrive while a's first cycle runs: they go together next, in arrival order.
    const second = q.submit('a', ['a2', 'a3']);
    const third = q.submit('a', ['a4']);
    const fourth = q.submit('a', ['a5', 'a6', 'a7']);
    r.cycles[0].release();
    expect(await first).toEqual(['done:a1']);
    await r.settle();
    expect(r.cycles[1].items).toEqual(['a2', 'a3', 'a4', 'a5', 'a6', 'a7']);
    r.cycles[1].release();
    expect(await second).toEqual(['done:a2', 'done:a3']);
    expect(await third).toEqual(['done:a4']);
    expect(await fourth).toEqual(['done:a5', 'done:a6', 'done:a7']);
    await r.settle();
    expect(q.busyKeys).toBe(0);
  });

  it('never splits a unit and never exceeds maxItems unless one unit alone does', async () => {
    const r = recorder();
    const q = new KeyedGroupCommit<string, string>(r.run, 4);
    const p0 = q.submit('k', ['x']);
    await r.settle();
    const p1 = q.submit('k', ['1', '2', '3']);
    const p2 = q.submit('k', ['4', '5']);
    const p3 = q.submit('k', ['6', '7', '8', '9', '10']);
    r.cycles[0].release();
    await p0;
    await r.settle();
    expect(r.cycles[1].items).toEqual(['1', '2', '3']);
    r.cycles[1].release();
    await p1;
    await r.settle();
    expect(r.cycles[2].items).toEqual(['4', '5']);
    r.cycles[2].release();
    await p2;
    await r.settle();
    expect(r.cycles[3].items).toEqual(['6', '7', '8', '9', '10']);
    r.cycles[3].release();
    expect(await p3).toHaveLength(5);
  });

  it('runs different keys in parallel, and one key never waits for another', async () => {
    const r = recorder();
    const q = new KeyedGroupCommit<string, string>(r.run, 10);
    const a = q.submit('a', ['a1']);
    const b = q.submit('b', ['b1']);
    await r.settle();
    expect(r.cycles.map((c) => c.items)).toEqual([['a1'], ['b1']]);
    expect(q.busyKeys).toBe(2);
    // b finishes while a is still running.
    r.cycles[1].release();
    expect(await b).toEqual(['done:b1']);
    r.cycles[0].release();
    expect(await a).toEqual(['done:a1']);
    expect(r.maxRunning()).toBe(2);
  });

  it('with depth 2, sends the next cycle of a key while the current one runs, and never a third', async () => {
    const r = recorder();
    const q = new KeyedGroupCommit<string, string>(r.run, 10, 2);
    const first = q.submit('k', ['1']);
    await r.settle();
    const second = q.submit('k', ['2']);
    await r.settle();
    // Already running beside the first (in the database it would wait on the key's lock).
    expect(r.cycles.map((c) => c.items)).toEqual([['1'], ['2']]);
    const third = q.submit('k', ['3']);
    const fourth = q.submit('k', ['4']);
    await r.settle();
    expect(r.cycles).toHaveLength(2);
    r.cycles[0].release();
    expect(await first).toEqual(['done:1']);
    await r.settle();
    // The queued units go together as the next cycle once one finished.
    expect(r.cycles[2].items).toEqual(['3', '4']);
    expect(r.maxRunning()).toBe(2);
    r.cycles[1].release();
    r.cycles[2].release();
    expect(await second).toEqual(['done:2']);
    expect([await third, await fourth]).toEqual([['done:3'], ['done:4']]);
    await r.settle();
    expect(q.busyKeys).toBe(0);
  });

  it('rejects every unit of a failed cycle and goes on with the next one', async () => {
    const r = recorder();
    const q = new KeyedGroupCommit<string, string>(r.run, 10);
    const first = q.submit('k', ['ok0']);
    await r.settle();
    const bad = q.submit('k', ['boom']);
    const sameCycle = q.submit('k', ['ok1']);
    r.cycles[0].release();
    await first;
    await r.settle();
    r.cycles[1].release();
    await expect(bad).rejects.toThrow('cycle failed');
    await expect(sameCycle).rejects.toThrow('cycle failed');
    const after = q.submit('k', ['ok2']);
    await r.settle();
    r.cycles[2].release();
    expect(await after).toEqual(['done:ok2']);
  });

  it('with isolate, a cycle that fails runs each of its units alone: only the bad one fails', async () => {
    const q = new KeyedGroupCommit<number, number>(
      async (items) => {
        if (items.includes(-1)) throw new Error('bad item');
        return items.map((i) => i * 10);
      },
      10,
      1,
      true,
    );
    const results = await Promise.allSettled([[1], [-1], [2, 3]].map((u) => q.submit('a', u)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected'))).toEqual([[10], 'rejected', [20, 30]]);
  });
});
