import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { OrganizationLoader } from '../organizations/index.js';
import { OrganizationModel, toOrganizationModel } from '../organizations/index.js';
import { parseMarkPayoutPaid, parseRejectPayout, parseRequestPayout } from './domain/payout-commands.js';
import { RequestPayoutInput } from './dto/request-payout.input.js';
import { PayoutStatus } from './domain/payout-rules.js';
import { PayoutModel, toPayoutModel } from './models/payout.model.js';
import { PayoutsService } from './payouts.service.js';

@Resolver(() => PayoutModel)
export class PayoutsResolver {
  constructor(
    private readonly service: PayoutsService,
    private readonly organizations: OrganizationLoader,
  ) {}

  @Query(() => [PayoutModel], { description: 'Your payouts, newest first; the operator sees all (status PENDING: those to pay or reject).' })
  @Access('SELLER', 'LENDER', 'OPERATOR')
  async payouts(
    @CurrentPrincipal() principal: Principal,
    @Args('status', { type: () => PayoutStatus, nullable: true }) status?: PayoutStatus | null,
  ): Promise<PayoutModel[]> {
    return (await this.service.visibleTo(principal, status ?? null)).map(toPayoutModel);
  }

  @Mutation(() => PayoutModel, { description: 'A seller or lender asks to be paid out of its available wallet funds; the amount leaves the wallet at once.' })
  @Access('SELLER', 'LENDER')
  async requestPayout(@CurrentPrincipal() principal: Principal, @Args('input') input: RequestPayoutInput): Promise<PayoutModel> {
    return toPayoutModel(await this.service.request(parseRequestPayout(principal.organizationId, input)));
  }

  @Mutation(() => PayoutModel, { description: 'Operator: the money was sent; records the bank reference (PENDING → PAID).' })
  @Access('OPERATOR')
  async markPayoutPaid(@Args('id', { type: () => ID }) id: string, @Args('reference') reference: string): Promise<PayoutModel> {
    return toPayoutModel(await this.service.decide(parseMarkPayoutPaid(id, reference)));
  }

  @Mutation(() => PayoutModel, { description: 'Operator: refuses a payout with a reason; the money returns to the wallet (PENDING → REJECTED).' })
  @Access('OPERATOR')
  async rejectPayout(@Args('id', { type: () => ID }) id: string, @Args('reason') reason: string): Promise<PayoutModel> {
    return toPayoutModel(await this.service.decide(parseRejectPayout(id, reason)));
  }

  @ResolveField(() => OrganizationModel)
  async organization(@Parent() p: PayoutModel, @Context() context: { req: object }): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.load(context.req, p.organizationId));
  }
}
