import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ErrorCode } from '@ccx/core';
import type { RequestWithPrincipal } from '../auth/access.guard.js';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator.js';
import { bearerKey, MALFORMED } from '../auth/bearer-key.js';
import type { Principal } from '../auth/principal.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { isDatabaseUnavailable, SERVICE_UNAVAILABLE_MESSAGE } from '../graphql/format-error.js';
import { RateLimitStore, type RateBuckets } from './rate-limit-store.js';
import { isGatewayPath } from '../http/rest-exception.filter.js';

type LimitedRequest = Request & RequestWithPrincipal;

/**
 * Rate limits for /graphql and /v1/* (never /health or /metrics, which monitors poll): a token
 * bucket per organization once its key is authenticated, and one per client address for
 * requests without a valid key (so guessing keys is limited too). Over the limit: HTTP 429 with
 * Retry-After and RATE_LIMITED, in the GraphQL or REST error shape; nothing else runs.
 *
 * The operator is not limited: it is the platform's own gateway (SPEC §8 — all metering arrives
 * with its key) and throttling it would drop billing events rather than protect anyone.
 *
 * The buckets live in Redis when REDIS_URL is set, shared by every API process; else in each
 * process's memory (TokenBuckets), where N API processes allow up to N × the limit.
 * The client address is the socket's (Express "trust proxy" is off); behind a reverse proxy all
 * anonymous callers share the proxy's address.
 */
@Injectable()
export class RateLimitMiddleware implements NestMiddleware {
  private readonly perKey: RateBuckets | null;
  private readonly perAddress: RateBuckets | null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly authenticator: ApiKeyAuthenticator,
    store: RateLimitStore,
  ) {
    const { perKey, perIp } = config.rateLimit;
    this.perKey = perKey.perMinute > 0 ? store.buckets('key', perKey.perMinute, perKey.burst) : null;
    this.perAddress = perIp.perMinute > 0 ? store.buckets('ip', perIp.perMinute, perIp.burst) : null;
  }

  async use(req: LimitedRequest, res: Response, next: NextFunction): Promise<void> {
    // Both limits off: nothing to decide, so the guard authenticates as it would without us.
    if (!this.perKey && !this.perAddress) return next();
    const path = pathOf(req);
    if (!isLimited(path)) return next();
    let principal: Principal | null;
    try {
      principal = await this.authenticate(req);
    } catch (error) {
      // The key could not be looked up. Counting the caller as anonymous would spend its
      // address's bucket on an outage (every keyed caller behind one address shares it), so an
      // unreachable database is SERVICE_UNAVAILABLE here, before anything else runs.
      if (isDatabaseUnavailable(error)) return unavailable(res, path);
      // Any other failure: anonymous until the guard, which looks the key up again, decides (and
      // answers in the route's own error shape).
      principal = null;
    }
    if (principal?.role === 'OPERATOR') return next();
    const verdict = await (principal ? this.perKey?.take(principal.organizationId) : this.perAddress?.take(clientAddress(req)));
    if (!verdict || verdict.allowed) return next();
    refuse(res, path, verdict.retryAfterSeconds);
  }

  /**
   * Looks the key up (by its SHA-256, as the guard does) and caches the principal on the request,
   * so the AccessGuard does not look it up again. A malformed or unknown key is left for the
   * guard to refuse with UNAUTHENTICATED; until then the request counts as anonymous. A lookup
   * that fails throws: the caller is not anonymous, only unknown for now.
   */
  private async authenticate(req: LimitedRequest): Promise<Principal | null> {
    if (req.principal !== undefined) return req.principal;
    const key = bearerKey(req.headers);
    if (key === null) {
      req.principal = null;
      return null;
    }
    if (key === MALFORMED) return null;
    const principal = await this.authenticator.authenticate(key);
    if (principal) req.principal = principal;
    return principal;
  }
}

/** Lower-cased path without the query: Express routes match case-insensitively. */
function pathOf(req: Request): string {
  const url = req.originalUrl ?? req.url;
  const end = url.search(/[?#]/);
  return (end === -1 ? url : url.slice(0, end)).toLowerCase();
}

function isLimited(path: string): boolean {
  return path === '/graphql' || path.startsWith('/graphql/') || path.startsWith('/v1/');
}

function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

function refuse(res: Response, path: string, retryAfterSeconds: number): void {
  answer(res, path, 429, ErrorCode.RATE_LIMITED, `Too many requests; retry in ${retryAfterSeconds} s`, retryAfterSeconds);
}

/** The database is unreachable (SPEC §11): 503, retry shortly; the message the filters use too. */
function unavailable(res: Response, path: string): void {
  answer(res, path, 503, ErrorCode.SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_MESSAGE, 1);
}

/** An answer in the shape of the route: `{"error":…}` on /v1/*, `{"errors":[…]}` on /graphql. */
function answer(res: Response, path: string, status: number, code: string, message: string, retryAfterSeconds: number): void {
  res.setHeader('Retry-After', String(retryAfterSeconds));
  res.status(status);
  if (isGatewayPath(path)) {
    // The OpenAI-compatible paths answer in OpenAI's shape (SPEC §12).
    const openAi = status === 429 ? 'rate_limit_exceeded' : 'service_unavailable';
    res.json({ error: { message, type: status === 429 ? openAi : 'api_error', param: null, code: openAi } });
  } else if (path.startsWith('/v1/')) {
    res.json({ error: { code, message } });
  } else {
    res.json({ errors: [{ message, extensions: { code } }] });
  }
}
