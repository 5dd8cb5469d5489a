interface Entry<In, Out> {
  item: In;
  resolve: (o: Out) => void;
  reject: (e: unknown) => void;
}

interface KeyQueue<In, Out> {
  pending: Entry<In, Out>[];
  running: number;
  scheduled: boolean;
}

/**
 * Group commit per key (the gateway's buyer), with up to `depth` cycles of a key in flight.
 *
 * Items of a key that arrive while its cycles run wait and go together in its next cycle, as in
 * `GroupCommit`; other keys never wait for it. With `depth` 2, the next cycle of a busy key is
 * already sent and waiting on the key's database lock (the buyer's advisory lock, its first
 * statement) while the current one finishes, so it starts the moment that one commits instead of
 * one event-loop turn and one round trip later: the buyer's lock is never idle while work waits.
 * Correctness rests on that lock, not on this queue: each cycle reads everything it judges after
 * taking it. When a cycle fails as a whole, each of its items is run again on its own, so one
 * item's failure never fails another caller (SPEC §8). A key exists here only while it has work.
 */
export class CycleQueue<In, Out> {
  private readonly keys = new Map<string, KeyQueue<In, Out>>();

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly depth = 2,
    private readonly maxBatch = 500,
  ) {}

  submit(key: string, item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      let queue = this.keys.get(key);
      if (!queue) {
        queue = { pending: [], running: 0, scheduled: false };
        this.keys.set(key, queue);
      }
      queue.pending.push({ item, resolve, reject });
      this.schedule(key, queue);
    });
  }

  /** Keys with work queued or running (for tests and metrics). */
  get busyKeys(): number {
    return this.keys.size;
  }

  private schedule(key: string, queue: KeyQueue<In, Out>): void {
    if (queue.scheduled || queue.running >= this.depth || !queue.pending.length) return;
    queue.scheduled = true;
    // One turn of the event loop: the items submitted in this turn go in the same cycle.
    setImmediate(() => {
      queue.scheduled = false;
      if (queue.running >= this.depth || !queue.pending.length) return;
      const batch = queue.pending.splice(0, this.maxBatch);
      queue.running += 1;
      void this.runBatch(batch).finally(() => {
        queue.running -= 1;
        if (queue.pending.length) this.schedule(key, queue);
        else if (queue.running === 0 && !queue.scheduled && this.keys.get(key) === queue) this.keys.delete(key);
      });
    });
  }

  private async runBatch(batch: Entry<In, Out>[]): Promise<void> {
    try {
      const outs = await this.run(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(outs[i]));
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
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
