import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import { DomainError, ErrorCode } from '@ccx/core';
import { ACCESS_KEY, type AccessRule } from './access.decorator.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';
import { bearerKey, MALFORMED } from './bearer-key.js';
import type { Principal } from './principal.js';

export interface RequestWithPrincipal {
  headers: Record<string, string | string[] | undefined>;
  principal?: Principal | null;
}

/**
 * The single enforcement point of SPEC §2 for GraphQL and REST. Missing or unknown key where one
 * is needed: UNAUTHENTICATED; wrong role: FORBIDDEN; a PENDING or SUSPENDED organization may read
 * (queries, GET) but not act (mutations, other HTTP methods).
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rules = this.reflector.getAllAndOverride<AccessRule[] | undefined>(ACCESS_KEY, [context.getHandler(), context.getClass()]);
    const { request, acting } = this.describe(context);
    if (!request) return true; // field resolvers inherit their parent's check
    const principal = await this.principalOf(request);
    if (!rules || rules.length === 0) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'this operation is not available');
    }
    if (rules.includes('PUBLIC')) return true;
    if (!principal) {
      throw new DomainError(ErrorCode.UNAUTHENTICATED, 'send a valid API key as "Authorization: Bearer <key>"');
    }
    if (!rules.includes('AUTHENTICATED') && !rules.includes(principal.role)) {
      throw new DomainError(ErrorCode.FORBIDDEN, `a ${principal.role} organization may not do this`);
    }
    if (acting && principal.status !== 'ACTIVE') {
      throw new DomainError(ErrorCode.FORBIDDEN, `a ${principal.status} organization can read but not act`);
    }
    return true;
  }

  private describe(context: ExecutionContext): { request: RequestWithPrincipal | null; acting: boolean } {
    if (context.getType<string>() === 'graphql') {
      const gql = GqlExecutionContext.create(context);
      const info = gql.getInfo();
      const parent = info.parentType.name;
      if (parent !== 'Query' && parent !== 'Mutation') return { request: null, acting: false };
      return { request: gql.getContext().req, acting: parent === 'Mutation' };
    }
    const req = context.switchToHttp().getRequest();
    return { request: req, acting: req.method !== 'GET' && req.method !== 'HEAD' };
  }

  /** Authenticates once per request and caches the result on it. */
  private async principalOf(request: RequestWithPrincipal): Promise<Principal | null> {
    // The rate limiter may have authenticated the request already (rate-limit.middleware.ts).
    if (request.principal !== undefined) return request.principal;
    const key = bearerKey(request.headers);
    if (key === MALFORMED) {
      throw new DomainError(ErrorCode.UNAUTHENTICATED, 'the Authorization header must be "Bearer <key>"');
    }
    const principal = key ? await this.authenticator.authenticate(key) : null;
    if (key && !principal) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'unknown API key');
    request.principal = principal;
    return principal;
  }
}
