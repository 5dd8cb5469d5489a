import { BigNumber } from 'bignumber.js';
import { Decimal } from '@ccx/core';
import { addMonthsClamped, wholeDaysBetween } from './dates.js';
import { assertCents, assertValidDate } from './validation.js';

/** One scheduled payment of a closed-end credit, as the APR sees it. */
export interface ScheduledPayment {
  amount: Decimal;
  dueDate: Date;
}

export interface RegulationZAprInput {
  /** Regulation Z's amount financed: principal minus prepaid finance charges. Whole cents, > 0. */
  amountFinanced: Decimal;
  /** Every payment, in any order; each due after `startDate`. Whole cents, ≥ 0. */
  payments: readonly ScheduledPayment[];
  /** When the finance charge begins to be earned (the single advance). */
  startDate: Date;
}

/** The time from the advance to a payment in Appendix J's monthly unit-periods. */
export interface UnitPeriods {
  /** `t`: whole months. */
  periods: number;
  /** Days left over, outside the whole months. */
  oddDays: number;
  /** `f = oddDays ÷ 30`: the fractional unit-period. */
  fraction: Decimal;
}

/** Monthly rate bracket width at which the search stops: far below the 0.00005 / 12 that matters. */
const RATE_TOLERANCE = new Decimal('1e-18');
/** Digits kept in the discount factors `(1+i)^−t`. */
const DISCOUNT_DECIMALS = 40;
/** Bisection steps allowed after the bracket is found (60 already reach 1e-18 from 1). */
const MAX_STEPS = 200;
const UNIT_PERIODS_PER_YEAR = 12;

/**
 * Appendix J (b)(5) with a monthly unit-period, from `startDate` to `date`:
 * whole unit-periods are the months measured back from the later date (each step back lands on
 * the later date's day of month, clamped to the month's last day, computed from the later date so
 * clamping never drifts); the odd days are the days (24-hour intervals, (b)(5)(i)) measured forward
 * from `startDate` to the beginning of the first whole month, and the fraction is odd days ÷ 30.
 *
 * A date that is a monthly anniversary of the start under the schedule's own rule
 * (`addMonthsClamped(startDate, k)`, e.g. Feb 28 after a Jan 30 advance) is exactly `k` whole
 * periods: Appendix J treats all months as equal, and counting back from a clamped month end
 * would otherwise invent odd days for a payment that is due precisely one month later.
 *
 * @throws RangeError when `date` is before `startDate`.
 */
export function appendixJMonthlyUnitPeriods(startDate: Date, date: Date): UnitPeriods {
  assertValidDate(startDate, 'startDate');
  assertValidDate(date, 'date');
  if (date.getTime() < startDate.getTime()) throw new RangeError('a payment cannot fall before the start date');

  const monthsApart =
    (date.getUTCFullYear() - startDate.getUTCFullYear()) * 12 + (date.getUTCMonth() - startDate.getUTCMonth());
  if (monthsApart >= 0 && addMonthsClamped(startDate, monthsApart).getTime() === date.getTime()) {
    return { periods: monthsApart, oddDays: 0, fraction: new Decimal(0) };
  }

  let periods = 0;
  let beginning = date;
  for (;;) {
    const previous = addMonthsClamped(date, -(periods + 1));
    if (previous.getTime() < startDate.getTime()) break;
    periods += 1;
    beginning = previous;
  }
  const oddDays = wholeDaysBetween(startDate, beginning);
  return { periods, oddDays, fraction: new Decimal(oddDays).div(30) };
}

/**
 * The annual percentage rate of US Regulation Z (12 CFR 1026.22, Appendix J actuarial method) for
 * a single advance repaid by `payments`, with a monthly unit-period: a fraction rounded HALF_UP
 * to 4 decimals (`"0.1994"` is 19.94 %).
 *
 * Method. Appendix J (b)(8)'s general equation for one advance sets the amount financed equal to
 * the present value of the payments at the unit-period rate `i`:
 *
 *     A = Σ_k P_k ÷ ((1 + f_k·i) · (1 + i)^t_k)
 *
 * where `t_k` and `f_k` are the whole and fractional unit-periods from the advance to payment k
 * (see {@link appendixJMonthlyUnitPeriods}; for payments on monthly anniversaries `f_k = 0` and
 * this is the plain actuarial present value). The right side strictly decreases in `i`, so the
 * root is unique: it is bracketed between 0 (where the sum is the total of payments ≥ `A`) and a
 * rate doubled until the sum falls below `A`, then bisected in `Decimal` (30 decimals, discount
 * factors kept to 40) until the monthly bracket is narrower than 1e-18 and both ends give the
 * same 4-decimal APR. APR = 12 × i (Appendix J (b)(1)), rounded HALF_UP to 4 decimals.
 *
 * @throws RangeError on invalid input, a payment due before the start, or a total of payments
 *   below the amount financed (a negative finance charge has no meaningful APR here).
 */
export function regulationZApr({ amountFinanced, payments, startDate }: RegulationZAprInput): Decimal {
  assertCents(amountFinanced, 'amountFinanced');
  if (!amountFinanced.gt(0)) throw new RangeError('amountFinanced must be greater than zero');
  assertValidDate(startDate, 'startDate');
  if (payments.length === 0) throw new RangeError('at least one payment is required');

  const terms = payments.map((payment, index) => {
    assertCents(payment.amount, `payments[${index}].amount`);
    if (payment.amount.lt(0)) throw new RangeError(`payments[${index}].amount must not be negative`);
    assertValidDate(payment.dueDate, `payments[${index}].dueDate`);
    if (payment.dueDate.getTime() <= startDate.getTime()) {
      throw new RangeError(`payments[${index}] must be due after the start date`);
    }
    return { amount: payment.amount, ...appendixJMonthlyUnitPeriods(startDate, payment.dueDate) };
  });

  const totalOfPayments = terms.reduce((sum, term) => sum.plus(term.amount), new Decimal(0));
  if (totalOfPayments.lt(amountFinanced)) {
    throw new RangeError('the total of payments is less than the amount financed (negative finance charge)');
  }
  if (totalOfPayments.eq(amountFinanced)) return new Decimal(0);

  const presentValue = (i: Decimal): Decimal => appendixJPresentValue(terms, i);
  let low = new Decimal(0);
  let high = new Decimal(1);
  while (presentValue(high).gt(amountFinanced)) {
    low = high;
    high = high.times(2);
    if (high.gt(1e6)) throw new RangeError('the APR is beyond any meaningful range');
  }

  const annual = (i: Decimal) => i.times(UNIT_PERIODS_PER_YEAR).decimalPlaces(4, BigNumber.ROUND_HALF_UP);
  for (let step = 0; step < MAX_STEPS; step++) {
    if (high.minus(low).lt(RATE_TOLERANCE) && annual(low).eq(annual(high))) break;
    const middle = low.plus(high).div(2);
    if (presentValue(middle).gt(amountFinanced)) low = middle;
    else high = middle;
  }
  return annual(low.plus(high).div(2));
}

interface DiscountTerm {
  amount: Decimal;
  periods: number;
  fraction: Decimal;
}

/** `Σ amount ÷ ((1 + f·i)(1 + i)^t)`, the discount factors built up one month at a time. */
function appendixJPresentValue(terms: readonly DiscountTerm[], i: Decimal): Decimal {
  const maxPeriods = Math.max(...terms.map((term) => term.periods));
  const perPeriod = new Decimal(1).div(i.plus(1));
  const factors = [new Decimal(1)];
  for (let t = 1; t <= maxPeriods; t++) {
    factors.push(factors[t - 1].times(perPeriod).decimalPlaces(DISCOUNT_DECIMALS, BigNumber.ROUND_HALF_UP));
  }
  return terms.reduce((sum, { amount, periods, fraction }) => {
    const discounted = amount.times(factors[periods]);
    return sum.plus(fraction.isZero() ? discounted : discounted.div(fraction.times(i).plus(1)));
  }, new Decimal(0));
}
