import { Decimal, roundUnitPrice, roundUsd } from '@ccx/core';
import { addMonthsClamped } from '@ccx/finance';
import type { BusinessRules } from '../../config/business-rules.js';
import type { Fill } from '../../listings/index.js';

/** A reservation's delivery instants (SPEC §6): now, then each monthly anniversary (clamped). */
export function monthlyDeliveries(anchor: Date, termMonths: number): Date[] {
  return Array.from({ length: termMonths }, (_, k) => addMonthsClamped(anchor, k));
}

/** 1 + max(0, u − threshold): 1.0 to 1.5 with the default threshold 0.5. */
export function demandMultiplier(u: Decimal, rules: BusinessRules['pricing']): Decimal {
  return new Decimal(1).plus(Decimal.max(0, u.minus(rules.demandThreshold)));
}

/** The night factor when the clock's UTC hour is in [nightStartHour, nightEndHour), else 1. */
export function timeOfDayFactor(now: Date, rules: BusinessRules['pricing']): Decimal {
  const hour = now.getUTCHours();
  const { nightStartHour: start, nightEndHour: end } = rules;
  const night = start > end ? hour >= start || hour < end : hour >= start && hour < end;
  return night ? rules.nightFactor : new Decimal(1);
}

/**
 * Standard unit price (SPEC §5): wholesale cost of the fill ÷ credits × (1 + margin) × demand
 * multiplier × time-of-day factor, 6 decimals HALF_UP.
 */
export function standardUnitPrice(fill: Fill, u: Decimal, now: Date, rules: BusinessRules['pricing']): Decimal {
  return roundUnitPrice(
    fill.wholesaleCost
      .div(fill.credits)
      .times(new Decimal(1).plus(rules.margin))
      .times(demandMultiplier(u, rules))
      .times(timeOfDayFactor(now, rules)),
  );
}

/** The term discount for a commitment of `termMonths` (SPEC §5); 0 outside every band. */
export function termDiscount(termMonths: number, rules: BusinessRules['pricing']): Decimal {
  const band = rules.termDiscounts.find((b) => termMonths >= b.minMonths && termMonths <= b.maxMonths);
  return band ? band.rate : new Decimal(0);
}

/** Reserved unit price: the standard unit price of the whole commitment × (1 − discount), 6 dp. */
export function reservedUnitPrice(standardUnit: Decimal, discount: Decimal): Decimal {
  return roundUnitPrice(standardUnit.times(new Decimal(1).minus(discount)));
}

/** Financed credits are bought at wholesale: the fill's average cost per credit, 6 dp. */
export function wholesaleUnitPrice(fill: Fill): Decimal {
  return roundUnitPrice(fill.wholesaleCost.div(fill.credits));
}

/** total = credits × unit price, cents HALF_UP. */
export function totalPrice(credits: Decimal, unitPrice: Decimal): Decimal {
  return roundUsd(credits.times(unitPrice));
}
