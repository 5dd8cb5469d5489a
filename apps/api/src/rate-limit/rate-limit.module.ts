import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { RateLimitMiddleware } from './rate-limit.middleware.js';
import { RateLimitStore } from './rate-limit-store.js';

/**
 * Mounts the rate limiter on every route; the middleware itself picks /graphql and /v1/*. Nest
 * mounts module middleware before GraphQLModule registers Apollo (at module init), so a refused
 * request never reaches the GraphQL handler; global modules' middleware (request logging,
 * metrics) is mounted first, so a 429 is still logged and counted.
 */
// ApiKeyAuthenticator comes from the global AuthModule.
@Module({ providers: [RateLimitStore] })
export class RateLimitModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RateLimitMiddleware).forRoutes('*path');
  }
}
