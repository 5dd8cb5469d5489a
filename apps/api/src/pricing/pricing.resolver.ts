import { Args, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { MarketStatsModel, QuoteInput, QuoteModel } from './models/pricing.models.js';
import { PricingService } from './pricing.service.js';

@Resolver()
export class PricingResolver {
  constructor(private readonly pricing: PricingService) {}

  @Query(() => MarketStatsModel)
  @Access('PUBLIC')
  market(): Promise<MarketStatsModel> {
    return this.pricing.marketStats();
  }

  @Query(() => QuoteModel, { description: 'What a purchase would cost now; changes nothing.' })
  @Access('PUBLIC')
  quote(@Args('input') input: QuoteInput): Promise<QuoteModel> {
    return this.pricing.quote(input);
  }
}
