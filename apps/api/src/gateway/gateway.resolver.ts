import { Inject } from '@nestjs/common';
import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import DataLoader from 'dataloader';
import { formatAmount } from '@ccx/core';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { ClockService } from '../clock/clock.service.js';
import { DecimalScalar } from '../graphql/decimal.scalar.js';
import { ListingModel, toListingModel } from '../listings/index.js';
import { ListingsService } from '../listings/index.js';
import { EndpointStore } from './endpoint-store.js';
import { EndpointsService } from './endpoints.service.js';
import { parseCreateEndpoint, parseSetEndpointEnabled } from './domain/endpoint-command.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import {
  CreateInferenceEndpointInput,
  InferenceEndpointModel,
  InferenceRequestConnection,
  toEndpointModel,
  toInferenceRequestModel,
} from './models/gateway.models.js';
import { encodeCursor, RequestLogService } from './request-log.service.js';

const SERVED = Symbol('ccx:served-credits-loader');

@Resolver(() => InferenceEndpointModel)
export class GatewayResolver {
  constructor(
    private readonly endpoints: EndpointsService,
    private readonly requests: RequestLogService,
    private readonly listings: ListingsService,
    private readonly clock: ClockService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Mutation(() => InferenceEndpointModel, { description: 'A seller attaches an OpenAI-compatible server to one of its listings.' })
  @Access('SELLER')
  async createInferenceEndpoint(@CurrentPrincipal() principal: Principal, @Args('input') input: CreateInferenceEndpointInput): Promise<InferenceEndpointModel> {
    return toEndpointModel(await this.endpoints.create(parseCreateEndpoint(principal.organizationId, input, { allowPrivateUrls: this.config.allowPrivateUrls })));
  }

  @Mutation(() => InferenceEndpointModel, { description: 'Turns an endpoint on or off (its seller, or the operator).' })
  @Access('SELLER', 'OPERATOR')
  async setInferenceEndpointEnabled(
    @CurrentPrincipal() principal: Principal,
    @Args('id', { type: () => ID }) id: string,
    @Args('enabled') enabled: boolean,
  ): Promise<InferenceEndpointModel> {
    return toEndpointModel(await this.endpoints.setEnabled(principal, parseSetEndpointEnabled(id, enabled)));
  }

  @Query(() => [InferenceEndpointModel], { description: 'A seller sees its own endpoints, the operator all.' })
  @Access('SELLER', 'OPERATOR')
  async inferenceEndpoints(@CurrentPrincipal() principal: Principal): Promise<InferenceEndpointModel[]> {
    return (await this.endpoints.list(principal)).map(toEndpointModel);
  }

  @Query(() => InferenceRequestConnection, { description: "Gateway requests, newest first: a buyer's own, those a seller served, or (operator) all." })
  @Access('BUYER', 'SELLER', 'OPERATOR')
  async inferenceRequests(
    @CurrentPrincipal() principal: Principal,
    @Args('first', { type: () => Int, nullable: true }) first?: number,
    @Args('after', { type: () => String, nullable: true }) after?: string,
    @Args('organizationId', { type: () => ID, nullable: true }) organizationId?: string,
  ): Promise<InferenceRequestConnection> {
    const page = await this.requests.page(principal, { first, after, organizationId });
    const edges = page.items.map((r) => ({ cursor: encodeCursor(r), node: toInferenceRequestModel(r) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount: page.totalCount };
  }

  @ResolveField(() => ListingModel)
  async listing(@Parent() endpoint: InferenceEndpointModel): Promise<ListingModel> {
    return toListingModel(await this.listings.get(endpoint.listingId), this.clock.now());
  }
}

/** `Listing.servedCredits`, batched per request. */
@Resolver(() => ListingModel)
export class ListingServedResolver {
  constructor(private readonly store: EndpointStore) {}

  @ResolveField(() => DecimalScalar, { description: "Credits consumed by gateway requests served from this listing's endpoints." })
  async servedCredits(@Parent() listing: ListingModel, @Context() context: { req: object }): Promise<string> {
    const holder = context.req as { [SERVED]?: DataLoader<string, string> };
    holder[SERVED] ??= new DataLoader<string, string>(async (ids) => {
      const served = await this.store.servedCredits(ids);
      return ids.map((id) => formatAmount(served.get(id) ?? '0', 6));
    });
    return holder[SERVED]!.load(listing.id);
  }
}
