import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { RedisBuckets } from './redis-buckets.js';
import { TokenBuckets, type TakeResult } from './token-buckets.js';

/** One limit: a bucket per caller key. */
export interface RateBuckets {
  take(key: string): TakeResult | Promise<TakeResult>;
}

/**
 * Where the rate-limit buckets live: in Redis when REDIS_URL is set (shared by every API process,
 * so N processes still allow the configured rate once), else in this process's memory (each
 * process applies the limits on its own).
 */
@Injectable()
export class RateLimitStore implements OnModuleDestroy {
  private readonly logger = new Logger('RateLimit');
  private readonly redis: Redis | null;
  private lastComplaint = 0;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const url = config.rateLimit.redisUrl;
    this.redis = url
      ? new Redis(url, {
          // A command that cannot be sent now fails at once (the memory fallback decides).
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
        })
      : null;
    this.redis?.on('error', (error: Error) => {
      // ioredis reconnects by itself; say so at most once a minute.
      if (Date.now() - this.lastComplaint < 60_000) return;
      this.lastComplaint = Date.now();
      this.logger.warn(`Redis for rate limits is unreachable (${error.message}); limiting per process until it is back`);
    });
  }

  /** The buckets of one limit (`name` keeps the per-key and per-address limits apart). */
  buckets(name: string, perMinute: number, burst: number): RateBuckets {
    return this.redis ? new RedisBuckets(this.redis, name, perMinute, burst) : new TokenBuckets(perMinute, burst);
  }

  async onModuleDestroy(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}
