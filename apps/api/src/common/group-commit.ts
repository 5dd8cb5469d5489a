/**
 * Group commit with one queue per key (e.g. per buyer): a key's units that arrive while its cycle
 * runs go together in its next cycle, and different keys run their cycles in parallel — so one
 * busy key never makes another wait (one global queue would take every waiting key's lock in each
 * cycle and wait for the slowest). A unit is a list of items answered together (a caller's batch);
 * a cycle takes whole units in arrival order up to `maxItems` items (always at least one unit) and
 * runs them as one list, in order, exactly as if they had come one after another. When a cycle
 * throws, every unit in it is rejected with the error (`run` isolates per-item faults itself, as
 * metering's does), or, with `isolate`, each of its units is run again alone, so only the unit
 * that fails sees the error (SPEC §8: one event's failure never affects another; the gateway).
 *
 * `depth` cycles of a key may be in flight. With 2, the next cycle of a busy key is already sent
 * and waits on the key's database lock (taken by `run` itself) while the current one finishes,
 * so the lock passes to it at commit instead of one event-loop turn and a few round trips later.
 * Correctness must rest on that lock, not on this queue. A key's queue exists only while it has
 * work, so the map holds no more keys than are busy.
 */
export class KeyedGroupCommit<In, Out> {
  private readonly queues = new Map<string, KeyQueue<In, Out>>();

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly maxItems: number,
    private readonly depth = 1,
    private readonly isolate = false,
  ) {}

  submit(key: string, items: In[]): Promise<Out[]> {
    return new Promise<Out[]>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) this.queues.set(key, (queue = { pending: [], running: 0, scheduled: false }));
      queue.pending.push({ items, resolve, reject });
      this.schedule(key, queue);
    });
  }

  /** Keys with work queued or running (for tests and metrics). */
  get busyKeys(): number {
    return this.queues.size;
  }

  private schedule(key: string, queue: KeyQueue<In, Out>): void {
    if (queue.scheduled || queue.running >= this.depth || !queue.pending.length) return;
    queue.scheduled = true;
    // One turn of the event loop first: what is submitted in this turn goes in the same cycle.
    setImmediate(() => {
      queue.scheduled = false;
      if (queue.running >= this.depth || !queue.pending.length) return;
      let count = queue.pending[0].items.length;
      let units = 1;
      while (units < queue.pending.length && count + queue.pending[units].items.length <= this.maxItems) count += queue.pending[units++].items.length;
      const cycle = queue.pending.splice(0, units);
      queue.running += 1;
      void this.runCycle(cycle).finally(() => {
        queue.running -= 1;
        if (queue.pending.length) this.schedule(key, queue);
        else if (queue.running === 0 && !queue.scheduled && this.queues.get(key) === queue) this.queues.delete(key);
      });
    });
  }

  private async runCycle(cycle: Unit<In, Out>[]): Promise<void> {
    try {
      const outs = await this.run(cycle.length === 1 ? cycle[0].items : cycle.flatMap((u) => u.items));
      let at = 0;
      for (const u of cycle) {
        u.resolve(outs.slice(at, at + u.items.length));
        at += u.items.length;
      }
    } catch (error) {
      if (!this.isolate || cycle.length === 1) {
        for (const u of cycle) u.reject(error);
        return;
      }
      for (const u of cycle) {
        try {
          u.resolve(await this.run(u.items));
        } catch (e) {
          u.reject(e);
        }
      }
    }
  }
}

interface Unit<In, Out> {
  items: In[];
  resolve: (o: Out[]) => void;
  reject: (e: unknown) => void;
}

interface KeyQueue<In, Out> {
  pending: Unit<In, Out>[];
  running: number;
  scheduled: boolean;
}
