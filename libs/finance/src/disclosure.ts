import type { Decimal } from '@ccx/core';
import { amortizationSchedule, totalInterest, totalPayments, type AmortizationInput, type Installment } from './amortization.js';
import { regulationZApr } from './regulation-z.js';
import { assertCents } from './validation.js';

export interface DisclosureInput extends AmortizationInput {
  /**
   * Finance charges paid at the start out of the principal (CCX's financing fee): whole cents,
   * at least zero and less than the principal.
   */
  prepaidFinanceCharge: Decimal;
}

/** What a borrower is shown before accepting (SPEC §7; Regulation Z's federal box). */
export interface Disclosure {
  schedule: Installment[];
  /** Sum of the schedule's interest parts. */
  totalInterest: Decimal;
  /** `principal − prepaidFinanceCharge`. */
  amountFinanced: Decimal;
  /** The Regulation Z APR of `schedule` against `amountFinanced`, 4 decimals. */
  disclosedApr: Decimal;
  /** `totalInterest + prepaidFinanceCharge`. */
  financeCharge: Decimal;
  /** Sum of the schedule's payments; always `amountFinanced + financeCharge`. */
  totalOfPayments: Decimal;
}

/**
 * The schedule of {@link amortizationSchedule} and its Regulation Z figures: the prepaid finance
 * charge is kept out of the amount financed and added to the finance charge, so the disclosed APR
 * rises above the note rate by the fee's cost spread over the term.
 *
 * @throws RangeError on any invalid input (see {@link amortizationSchedule}), or a prepaid finance
 *   charge that is negative, not whole cents, or not less than the principal.
 */
export function disclosure(input: DisclosureInput): Disclosure {
  const { principal, startDate, prepaidFinanceCharge } = input;
  const schedule = amortizationSchedule(input);
  assertCents(prepaidFinanceCharge, 'prepaidFinanceCharge');
  if (prepaidFinanceCharge.lt(0)) throw new RangeError('prepaidFinanceCharge must not be negative');
  if (!prepaidFinanceCharge.lt(principal)) throw new RangeError('prepaidFinanceCharge must be less than the principal');

  const interest = totalInterest(schedule);
  const amountFinanced = principal.minus(prepaidFinanceCharge);
  return {
    schedule,
    totalInterest: interest,
    amountFinanced,
    disclosedApr: regulationZApr({
      amountFinanced,
      payments: schedule.map((installment) => ({ amount: installment.payment, dueDate: installment.dueDate })),
      startDate,
    }),
    financeCharge: interest.plus(prepaidFinanceCharge),
    totalOfPayments: totalPayments(schedule),
  };
}
