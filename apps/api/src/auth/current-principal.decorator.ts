import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { Principal } from './principal.js';

/** The authenticated caller (null on PUBLIC operations called without a key). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal | null => {
  const req =
    context.getType<string>() === 'graphql'
      ? GqlExecutionContext.create(context).getContext().req
      : context.switchToHttp().getRequest();
  return req?.principal ?? null;
});
