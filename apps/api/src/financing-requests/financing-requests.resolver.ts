import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { OrganizationLoader } from '../organizations/index.js';
import { OrganizationModel, toOrganizationModel } from '../organizations/index.js';
import { BorrowerProfiles } from './borrower-profiles.js';
import { parseId } from '../common/ids.js';
import { parseRequestFinancing } from './domain/financing-request-commands.js';
import { FinancingRequestInput } from './dto/financing-request.input.js';
import type { FinancingRequestEntity } from './financing-request.entity.js';
import { FinancingRequestsService } from './financing-requests.service.js';
import { FinancingRequestStatus } from './domain/financing-request-rules.js';
import { BorrowerProfileModel, FinancingRequestModel } from './models/financing-request.model.js';

function toModel(r: FinancingRequestEntity): FinancingRequestModel {
  return {
    id: r.id,
    borrowerId: r.borrowerId,
    amount: formatAmount(r.amount, 2),
    termMonths: r.termMonths,
    purpose: r.purpose,
    status: r.status,
    createdAt: r.createdAt,
  };
}

@Resolver(() => FinancingRequestModel)
export class FinancingRequestsResolver {
  constructor(
    private readonly requests: FinancingRequestsService,
    private readonly profiles: BorrowerProfiles,
    private readonly organizations: OrganizationLoader,
  ) {}

  @Query(() => [FinancingRequestModel], {
    description: 'A buyer: its own requests. An ACTIVE lender: the OPEN ones and those it funded. The operator: all. Newest first.',
  })
  @Access('BUYER', 'LENDER', 'OPERATOR')
  async financingRequests(
    @CurrentPrincipal() principal: Principal,
    @Args('status', { type: () => FinancingRequestStatus, nullable: true }) status?: FinancingRequestStatus | null,
  ): Promise<FinancingRequestModel[]> {
    return (await this.requests.visibleTo(principal, status ?? null)).map(toModel);
  }

  @Mutation(() => FinancingRequestModel, { description: 'A buyer publishes a request for financing to every ACTIVE lender.' })
  @Access('BUYER')
  async requestFinancing(@CurrentPrincipal() principal: Principal, @Args('input') input: FinancingRequestInput): Promise<FinancingRequestModel> {
    return toModel(await this.requests.request(parseRequestFinancing(principal.organizationId, input)));
  }

  @Mutation(() => FinancingRequestModel, { description: 'Its buyer withdraws an OPEN request.' })
  @Access('BUYER')
  async withdrawFinancingRequest(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<FinancingRequestModel> {
    return toModel(await this.requests.withdraw(principal.organizationId, parseId(id, 'financing request')));
  }

  @ResolveField(() => OrganizationModel)
  async borrower(@Parent() r: FinancingRequestModel, @Context() context: { req: object }): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.load(context.req, r.borrowerId));
  }

  @ResolveField(() => BorrowerProfileModel)
  borrowerProfile(@Parent() r: FinancingRequestModel, @Context() context: { req: object }): Promise<BorrowerProfileModel> {
    return this.profiles.load(context.req, r.borrowerId);
  }
}
