import { Inject } from '@nestjs/common';
import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { OrganizationLoader } from '../organizations/index.js';
import { OrganizationModel, toOrganizationModel } from '../organizations/index.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import {
  parseAcceptFacility,
  parseDeclineFacility,
  parseLenderFacility,
  parseLenderFreeze,
  parseLenderUnfreeze,
  parseOfferFacility,
  parseRepayFacility,
} from './domain/facility-commands.js';
import { FacilitiesService } from './facilities.service.js';
import { FacilityLifecycleService } from './facility-lifecycle.service.js';
import { FacilityViews } from './facility-views.js';
import { FacilityModel, OfferFacilityInput, RecoveryModel, RepayFacilityInput, RepaymentModel } from './models/facility.models.js';
import { RepaymentsService } from './repayments.service.js';

@Resolver(() => FacilityModel)
export class FacilitiesResolver {
  constructor(
    private readonly facilitiesService: FacilitiesService,
    private readonly repayments: RepaymentsService,
    private readonly lifecycle: FacilityLifecycleService,
    private readonly views: FacilityViews,
    private readonly organizations: OrganizationLoader,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Query(() => [FacilityModel], { description: 'As lender or borrower, your facilities; the operator sees all.' })
  @Access('AUTHENTICATED')
  async facilities(@CurrentPrincipal() principal: Principal): Promise<FacilityModel[]> {
    return this.views.many(await this.facilitiesService.visibleTo(principal), principal);
  }

  @Query(() => FacilityModel, { nullable: true, description: 'Null unless you are its lender, its borrower or the operator.' })
  @Access('AUTHENTICATED')
  async facility(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<FacilityModel | null> {
    const found = await this.facilitiesService.visible(principal, id);
    return found ? this.views.one(found, principal) : null;
  }

  @Mutation(() => FacilityModel, { description: 'A lender offers financing to a buyer.' })
  @Access('LENDER')
  async offerFacility(@CurrentPrincipal() principal: Principal, @Args('input') input: OfferFacilityInput): Promise<FacilityModel> {
    return this.views.one(await this.facilitiesService.offer(parseOfferFacility(principal.organizationId, input, this.config.rules.financing)), principal);
  }

  @Mutation(() => FacilityModel, { description: "The borrower accepts: the lender's principal buys credits at wholesale." })
  @Access('BUYER')
  async acceptFacility(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<FacilityModel> {
    return this.views.one(await this.facilitiesService.accept(parseAcceptFacility(principal.organizationId, id)), principal);
  }

  @Mutation(() => FacilityModel)
  @Access('BUYER')
  async declineFacility(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<FacilityModel> {
    return this.views.one(await this.facilitiesService.decline(parseDeclineFacility(principal.organizationId, id)), principal);
  }

  @Mutation(() => RepaymentModel, { description: 'Oldest installment first, interest before principal.' })
  @Access('BUYER')
  async repayFacility(@CurrentPrincipal() principal: Principal, @Args('input') input: RepayFacilityInput): Promise<RepaymentModel> {
    const { repayment, facility } = await this.repayments.repay(parseRepayFacility(principal.organizationId, input));
    return {
      id: repayment.id,
      amount: formatAmount(repayment.amount, 2),
      interestPaid: formatAmount(repayment.interestPaid, 2),
      principalPaid: formatAmount(repayment.principalPaid, 2),
      facility: await this.views.one(facility, principal),
      createdAt: repayment.createdAt,
    };
  }

  @Mutation(() => FacilityModel, { description: 'The lender freezes the financed credits (DELINQUENT or DEFAULTED only).' })
  @Access('LENDER')
  async freezeFacilityCredits(
    @CurrentPrincipal() principal: Principal,
    @Args('id', { type: () => ID }) id: string,
    @Args('reason') reason: string,
  ): Promise<FacilityModel> {
    return this.views.one(await this.lifecycle.freezeByLender(parseLenderFreeze(principal.organizationId, id, reason)), principal);
  }

  @Mutation(() => FacilityModel, { description: 'The lender unfreezes the financed credits, at any time.' })
  @Access('LENDER')
  async unfreezeFacilityCredits(
    @CurrentPrincipal() principal: Principal,
    @Args('id', { type: () => ID }) id: string,
    @Args('reason', { nullable: true, type: () => String }) reason?: string | null,
  ): Promise<FacilityModel> {
    return this.views.one(await this.lifecycle.unfreezeByLender(parseLenderUnfreeze(principal.organizationId, id, reason)), principal);
  }

  @Mutation(() => RecoveryModel, { description: 'On a DEFAULTED facility: buy back the frozen credits and charge off the rest.' })
  @Access('LENDER')
  async recoverFrozenCredits(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<RecoveryModel> {
    const { recovery, facility } = await this.lifecycle.recover(parseLenderFacility(principal.organizationId, id));
    return {
      id: recovery.id,
      creditsRecovered: formatAmount(recovery.creditsRecovered, 6),
      amountRecovered: formatAmount(recovery.amountRecovered, 2),
      surplus: formatAmount(recovery.surplus, 2),
      chargedOffAmount: formatAmount(recovery.chargedOffAmount, 2),
      facility: await this.views.one(facility, principal),
    };
  }

  @ResolveField(() => OrganizationModel)
  async lender(@Parent() f: FacilityModel, @Context() context: { req: object }): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.load(context.req, f.lenderId));
  }

  @ResolveField(() => OrganizationModel)
  async borrower(@Parent() f: FacilityModel, @Context() context: { req: object }): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.load(context.req, f.borrowerId));
  }
}
