import { Decimal, roundUsd } from '@ccx/core';

export interface FeeBasis {
  status: string;
  termMonths: number;
  monthsDelivered: number;
  creditsPerMonth: Decimal;
  unitPrice: Decimal;
  /** What cancelling charged, once cancelled. */
  earlyTerminationFee: Decimal | null;
}

/**
 * SPEC §6: cancelling early charges `rate` (25%) × undelivered months × creditsPerMonth × unit
 * price, rounded to the cent. A live reservation (ACTIVE, PAST_DUE) shows what cancelling now
 * would charge, so the buyer sees the fee before deciding; a cancelled one shows what it was
 * charged; a completed one owes nothing.
 */
export function earlyTerminationFee(r: FeeBasis, rate: Decimal): Decimal {
  if (r.status === 'CANCELLED') return r.earlyTerminationFee ?? new Decimal(0);
  if (r.status !== 'ACTIVE' && r.status !== 'PAST_DUE') return new Decimal(0);
  const undelivered = r.termMonths - r.monthsDelivered;
  return roundUsd(rate.times(undelivered).times(r.creditsPerMonth).times(r.unitPrice));
}
