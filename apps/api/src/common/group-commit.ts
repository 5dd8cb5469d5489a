/**
 * Group commit: work items that arrive while a batch is running wait and go together in the next
 * batch (one database transaction for many concurrent callers, as metering does). One batch runs
 * at a time per queue. When a whole batch fails, each of its items is run again on its own, so
 * one item's failure never fails another caller (SPEC §8: one event's failure never affects another).
 */
export class GroupCommit<In, Out> {
  private readonly pending: { item: In; resolve: (o: Out) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.drain();
    });
  }

  /** Items waiting for the next batch (for tests and metrics). */
  get waiting(): number {
    return this.pending.length;
  }

  private drain(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(async () => {
      try {
        while (this.pending.length) {
          const batch = this.pending.splice(0, this.maxBatch);
          await this.runBatch(batch);
        }
      } finally {
        this.running = false;
        // An item submitted after the loop saw an empty queue but before `running` cleared.
        if (this.pending.length) this.drain();
      }
    });
  }

  private async runBatch(batch: { item: In; resolve: (o: Out) => void; reject: (e: unknown) => void }[]): Promise<void> {
    try {
      const outs = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(outs[i]));
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      // Isolate the fault: every item alone, so only the one that fails sees the error.
      for (const b of batch) {
        try {
          const [out] = await this.run([b.item]);
          b.resolve(out);
        } catch (e) {
          b.reject(e);
        }
      }
    }
  }
}

/**
 * Group commit with one queue per key (e.g. per buyer): a key's units that arrive while its cycle
 * runs go together in its next cycle, and different keys run their cycles in parallel — so one
 * busy key never makes another wait (one global queue would take every waiting key's lock in each
 * cycle and wait for the slowest). A unit is a list of items answered together (a caller's batch);
 * a cycle takes whole units in arrival order up to `maxItems` items (always at least one unit) and
 * runs them as one list, in order, exactly as if they had come one after another. When a cycle
 * throws, every unit in it is rejected with the error: `run` isolates per-item faults itself.
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
      for (const u of cycle) u.reject(error);
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
