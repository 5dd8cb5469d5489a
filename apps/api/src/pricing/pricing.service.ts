import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Decimal, formatAmount, roundUsd } from '@ccx/core';
import { ClockService } from '../clock/clock.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { MarketService } from '../listings/index.js';
import { monthlyDeliveries, reservedUnitPrice, standardUnitPrice, termDiscount, totalPrice, wholesaleUnitPrice } from './domain/pricing.js';
import type { QuoteCommand } from './domain/quote-command.js';
import type { MarketStatsModel, QuoteModel } from './models/pricing.models.js';
import { CreditType } from '../credits/index.js';

/** Read-only prices (SPEC §5): what a purchase would cost now, changing nothing. */
@Injectable()
export class PricingService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly market: MarketService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async marketStats(): Promise<MarketStatsModel> {
    const now = this.clock.now();
    const manager = this.dataSource.manager;
    const snapshot = await this.market.snapshotInTransaction(manager, now);
    const one = await this.market.fillInTransaction(manager, new Decimal(1), now);
    return {
      totalCredits: formatAmount(snapshot.totalCredits, 6),
      allocatedCredits: formatAmount(snapshot.allocatedCredits, 6),
      utilization: formatAmount(snapshot.utilization.decimalPlaces(6), 6),
      standardPricePerCredit: one ? formatAmount(standardUnitPrice(one.fill, snapshot.utilization, now, this.config.rules.pricing), 6) : null,
    };
  }

  async quote(input: QuoteCommand): Promise<QuoteModel> {
    const rules = this.config.rules;
    const { credits, termMonths } = input;
    const now = this.clock.now();
    const manager = this.dataSource.manager;
    const snapshot = await this.market.snapshotInTransaction(manager, now);
    let found: Awaited<ReturnType<MarketService['fillInTransaction']>>;
    if (termMonths !== null) {
      // Priced on the fill reserveCredits would make: each month from the listings open at its delivery.
      const deliveries = monthlyDeliveries(now, termMonths);
      const perMonth = credits.div(termMonths);
      found = await this.market.reservationFillInTransaction(manager, perMonth, deliveries, now);
      if (!found) throw this.market.insufficientForReservation(perMonth, deliveries);
    } else {
      found = await this.market.fillInTransaction(manager, credits, now);
      if (!found) throw await this.market.insufficientInTransaction(manager, credits, now);
    }
    let unitPrice: Decimal;
    let discountRate = new Decimal(0);
    if (input.type === CreditType.FINANCED) {
      unitPrice = wholesaleUnitPrice(found.fill);
    } else {
      unitPrice = standardUnitPrice(found.fill, snapshot.utilization, now, rules.pricing);
      if (termMonths !== null) {
        discountRate = termDiscount(termMonths, rules.pricing);
        unitPrice = reservedUnitPrice(unitPrice, discountRate);
      }
    }
    return {
      type: input.type,
      credits: formatAmount(credits, 6),
      unitPrice: formatAmount(unitPrice, 6),
      totalPrice: formatAmount(totalPrice(credits, unitPrice), 2),
      wholesaleCost: formatAmount(roundUsd(found.fill.wholesaleCost), 2),
      discountRate: discountRate.toFixed(2),
    };
  }
}
