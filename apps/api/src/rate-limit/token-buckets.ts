export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Above this many tracked callers, buckets that have refilled are dropped every second. */
const SWEEP_ABOVE = 10_000;
/** Hard cap on tracked callers: memory stays bounded whatever addresses an attacker sends from. */
export const MAX_TRACKED = 100_000;
const SWEEP_EVERY_MS = 60_000;
const BUSY_SWEEP_EVERY_MS = 1_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * In-memory token buckets, one per caller: `burst` requests at once, refilled continuously at
 * `perMinute` per minute. A bucket that has refilled is the same as no bucket, so such buckets
 * are swept (lazily, on `take`) and memory only holds recent callers.
 *
 * The state lives in this process only: several API processes each apply their own limits, so a
 * caller spread over N processes gets up to N times the limit. A global limit needs a shared
 * store (e.g. Redis); see README "Rate limits".
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private lastSweep: number;

  constructor(
    perMinute: number,
    private readonly burst: number,
    /** Monotonic milliseconds; injectable so tests need not wait. */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perMinute > 0) || !(burst >= 1)) throw new Error('a token bucket needs perMinute > 0 and burst >= 1');
    this.perMs = perMinute / 60_000;
    this.lastSweep = now();
  }

  /** Takes one token for `key`; when none is left, says how many whole seconds until one is. */
  take(key: string): TakeResult {
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    if (!this.buckets.has(key)) this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  /** Callers currently tracked (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private sweep(now: number): void {
    // A full pass over the callers at most once a second even when there are many (one per
    // request would make each request cost as much as all the callers together).
    if (now - this.lastSweep >= (this.buckets.size < SWEEP_ABOVE ? SWEEP_EVERY_MS : BUSY_SWEEP_EVERY_MS)) {
      this.lastSweep = now;
      for (const [key, bucket] of this.buckets) {
        if (bucket.tokens + (now - bucket.at) * this.perMs >= this.burst) this.buckets.delete(key);
      }
    }
    // Still too many active callers: forget the oldest (Map keeps insertion order). They start
    // again with a full bucket, which errs towards serving, never towards unbounded memory.
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < MAX_TRACKED) break;
      this.buckets.delete(key);
    }
  }
}
