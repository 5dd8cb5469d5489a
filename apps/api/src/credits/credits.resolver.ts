import { Args, ID, Query, Resolver } from '@nestjs/graphql';
import { DomainError, ErrorCode } from '@ccx/core';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { parseId } from '../common/ids.js';
import { CreditsService } from './credits.service.js';
import { CreditBalanceModel } from './models/credit-block.model.js';

@Resolver()
export class CreditsResolver {
  constructor(private readonly credits: CreditsService) {}

  @Query(() => CreditBalanceModel, { description: "A buyer's credits (its own; the operator may name any organization)." })
  @Access('BUYER', 'OPERATOR')
  creditBalance(
    @CurrentPrincipal() principal: Principal,
    @Args('organizationId', { type: () => ID, nullable: true }) organizationId?: string,
  ): Promise<CreditBalanceModel> {
    let target = principal.organizationId;
    if (organizationId !== undefined && organizationId !== null) {
      const id = principal.role === 'OPERATOR' ? parseId(organizationId, 'organization') : organizationId;
      if (principal.role !== 'OPERATOR' && id !== principal.organizationId) {
        throw new DomainError(ErrorCode.FORBIDDEN, "only the operator may read another organization's credits");
      }
      target = id;
    }
    return this.credits.balance(target);
  }
}
