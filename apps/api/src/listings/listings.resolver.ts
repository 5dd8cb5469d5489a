import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { CatalogService } from '../catalog/index.js';
import { ClockService } from '../clock/clock.service.js';
import { OrganizationLoader } from '../organizations/index.js';
import { OrganizationModel, toOrganizationModel } from '../organizations/index.js';
import { parseCreateListingCommand } from './domain/create-listing-command.js';
import { CreateListingInput, ListingFilter } from './dto/listing.inputs.js';
import { ListingConnection, ListingModel, toListingModel } from './models/listing.model.js';
import { encodeCursor, ListingsService } from './listings.service.js';

@Resolver(() => ListingModel)
export class ListingsResolver {
  constructor(
    private readonly listingsService: ListingsService,
    private readonly clock: ClockService,
    private readonly organizations: OrganizationLoader,
    private readonly catalog: CatalogService,
  ) {}

  @Query(() => ListingConnection, { description: 'Every listing, oldest first; `first` is at most 100.' })
  @Access('PUBLIC')
  async listings(
    @Args('filter', { type: () => ListingFilter, nullable: true }) filter?: ListingFilter,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { type: () => String, nullable: true }) after?: string,
  ): Promise<ListingConnection> {
    await this.clock.refresh();
    const page = await this.listingsService.page({ filter: filter ?? undefined, first, after });
    const now = this.clock.now();
    const edges = page.items.map((l) => ({ cursor: encodeCursor(l), node: toListingModel(l, now) }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.length ? edges[edges.length - 1].cursor : null },
      totalCount: page.totalCount,
    };
  }

  @Mutation(() => ListingModel)
  @Access('SELLER')
  async createListing(@CurrentPrincipal() principal: Principal, @Args('input') input: CreateListingInput): Promise<ListingModel> {
    // An unknown GPU type is NOT_FOUND before any other field is judged.
    const gpu = await this.catalog.gpuType(input.gpuType);
    const listing = await this.listingsService.create(parseCreateListingCommand(principal.organizationId, gpu, input));
    return toListingModel(listing, this.clock.now());
  }

  @Mutation(() => ListingModel, { description: 'Takes the unallocated remainder off the market.' })
  @Access('SELLER')
  async withdrawListing(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ListingModel> {
    return toListingModel(await this.listingsService.withdraw(principal.organizationId, id), this.clock.now());
  }

  @ResolveField(() => OrganizationModel)
  async seller(@Parent() listing: ListingModel, @Context() context: { req: object }): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.load(context.req, listing.sellerId));
  }
}
