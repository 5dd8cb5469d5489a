import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { TakeResult } from './token-buckets.js';

/**
 * Rate limits shared by every API process through Redis (`rate-limiter-flexible`), for
 * REDIS_URL. The in-memory TokenBuckets refill continuously; rate-limiter-flexible counts points
 * per fixed window, so the same limit is expressed as `burst` requests per `burst ÷ perMinute`
 * minutes: the same average rate and the same largest burst inside one window (two windows back
 * to back may allow up to 2 × burst in a moment — the price of an atomic one-round-trip check).
 *
 * When Redis cannot be reached the limiter falls back to the same limit in this process's memory
 * (`insuranceLimiter`): a Redis outage neither stops the API nor lifts the limits, it only makes
 * them per process again until Redis is back.
 */
export class RedisBuckets {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: Redis, name: string, perMinute: number, burst: number) {
    if (!(perMinute > 0) || !(burst >= 1)) throw new Error('a rate limit needs perMinute > 0 and burst >= 1');
    const points = Math.floor(burst);
    const duration = Math.max(1, Math.ceil((points * 60) / perMinute));
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `ccx:rate:${name}`,
      points,
      duration,
      // Not connected (yet, or any more): decide in memory at once instead of queueing.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `ccx:rate:${name}`, points, duration }),
    });
  }

  /** Takes one request for `key`; when none is left, how many whole seconds until one is. */
  async take(key: string): Promise<TakeResult> {
    try {
      await this.limiter.consume(key);
      return { allowed: true };
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
      throw refusal;
    }
  }
}
