import { Inject } from '@nestjs/common';
import { Args, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { parseQuoteCommand } from './domain/quote-command.js';
import { MarketStatsModel, QuoteInput, QuoteModel } from './models/pricing.models.js';
import { PricingService } from './pricing.service.js';

@Resolver()
export class PricingResolver {
  constructor(
    private readonly pricing: PricingService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Query(() => MarketStatsModel)
  @Access('PUBLIC')
  market(): Promise<MarketStatsModel> {
    return this.pricing.marketStats();
  }

  @Query(() => QuoteModel, { description: 'What a purchase would cost now; changes nothing.' })
  @Access('PUBLIC')
  quote(@Args('input') input: QuoteInput): Promise<QuoteModel> {
    return this.pricing.quote(parseQuoteCommand(input, this.config.rules.reservations.maxTermMonths));
  }
}
