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
