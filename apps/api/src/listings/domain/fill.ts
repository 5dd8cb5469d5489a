import { Decimal } from '@ccx/core';

/*
 * The matching engine's rules (SPEC §4, §6, §7): which open capacity an order takes, cheapest
 * first. They belong to the market, not to pricing: prices are computed from a fill, and a fill
 * never depends on a price.
 */

/** Open capacity of one listing, as the fill sees it. */
export interface Capacity {
  listingId: string;
  available: Decimal;
  costPerCredit: Decimal;
}

export interface FillPart {
  listingId: string;
  credits: Decimal;
  costPerCredit: Decimal;
  /** The reservation month (0-based) this part backs; absent for purchases and facilities. */
  month?: number;
}

/** Open capacity of one listing with its window `[availableFrom, availableUntil)`. */
export interface WindowedCapacity extends Capacity {
  availableFrom: Date;
  availableUntil: Date;
}

export interface Fill {
  parts: FillPart[];
  credits: Decimal;
  /** Σ credits × cost, exact (no rounding): the basis of every price. */
  wholesaleCost: Decimal;
}

/**
 * The cheapest fill of `credits` (SPEC §4): `capacity` must already be ordered cheapest
 * `wholesaleCostPerCredit` first, ties by earlier `createdAt`. Null when there is not enough.
 */
export function cheapestFill(capacity: Capacity[], credits: Decimal): Fill | null {
  const parts: FillPart[] = [];
  let remaining = credits;
  let wholesaleCost = new Decimal(0);
  for (const c of capacity) {
    if (remaining.isZero()) break;
    if (!c.available.gt(0)) continue;
    const take = Decimal.min(c.available, remaining);
    parts.push({ listingId: c.listingId, credits: take, costPerCredit: c.costPerCredit });
    wholesaleCost = wholesaleCost.plus(take.times(c.costPerCredit));
    remaining = remaining.minus(take);
  }
  return remaining.isZero() ? { parts, credits, wholesaleCost } : null;
}

/**
 * A reservation's fill (SPEC §6): month k's `creditsPerMonth` come from the listings whose window
 * covers its delivery instant `deliveries[k]` (`availableFrom` ≤ delivery < `availableUntil`),
 * cheapest first as ordered in `capacity`. Months are filled in delivery order, each taking what
 * is left after the earlier ones. Null when some month cannot be covered. The parts carry their
 * month; `credits` and `wholesaleCost` are the whole commitment's.
 */
export function monthlyFill(capacity: WindowedCapacity[], creditsPerMonth: Decimal, deliveries: Date[]): Fill | null {
  const left = new Map(capacity.map((c) => [c.listingId, c.available]));
  const parts: FillPart[] = [];
  let wholesaleCost = new Decimal(0);
  for (const [month, at] of deliveries.entries()) {
    const covering = capacity
      .filter((c) => c.availableFrom.getTime() <= at.getTime() && at.getTime() < c.availableUntil.getTime())
      .map((c) => ({ ...c, available: left.get(c.listingId)! }));
    const fill = cheapestFill(covering, creditsPerMonth);
    if (!fill) return null;
    for (const part of fill.parts) {
      left.set(part.listingId, left.get(part.listingId)!.minus(part.credits));
      parts.push({ ...part, month });
    }
    wholesaleCost = wholesaleCost.plus(fill.wholesaleCost);
  }
  return { parts, credits: creditsPerMonth.times(deliveries.length), wholesaleCost };
}

/**
 * The cheapest fill that `amount` of money buys at wholesale (financed credits, SPEC §7): whole
 * listings while the money lasts, then the credits the rest buys from the next listing, rounded
 * DOWN to micro-credits. Null when the market runs out before the money does.
 */
export function cheapestFillForAmount(capacity: Capacity[], amount: Decimal): Fill | null {
  const parts: FillPart[] = [];
  let money = amount;
  let credits = new Decimal(0);
  let wholesaleCost = new Decimal(0);
  for (const c of capacity) {
    if (!c.available.gt(0)) continue;
    const all = c.available.times(c.costPerCredit);
    const take = all.lte(money) ? c.available : money.div(c.costPerCredit).decimalPlaces(6, Decimal.ROUND_DOWN);
    if (take.gt(0)) {
      parts.push({ listingId: c.listingId, credits: take, costPerCredit: c.costPerCredit });
      credits = credits.plus(take);
      wholesaleCost = wholesaleCost.plus(take.times(c.costPerCredit));
      money = money.minus(take.times(c.costPerCredit));
    }
    if (take.lt(c.available)) return { parts, credits, wholesaleCost };
  }
  return money.isZero() && parts.length ? { parts, credits, wholesaleCost } : null;
}

/** u = allocated ÷ total over OPEN and SOLD_OUT listings; 0 when there is none. */
export function utilization(allocated: Decimal, total: Decimal): Decimal {
  return total.gt(0) ? allocated.div(total) : new Decimal(0);
}
