import { BigNumber } from 'bignumber.js';
import { Decimal, roundUsd } from '@ccx/core';
import { addMonthsClamped } from './dates.js';
import { assertCents, assertValidDate } from './validation.js';

/** One level-payment installment of a schedule (SPEC §7). Every amount is exact cents. */
export interface Installment {
  /** 1-based position in the schedule. */
  number: number;
  /** `addMonthsClamped(startDate, number)`: the start's day of month, clamped to the month's end. */
  dueDate: Date;
  /** `principal + interest`. */
  payment: Decimal;
  /** The part of the payment that repays principal. */
  principal: Decimal;
  /** `openingBalance × apr ÷ 12`, cents HALF_UP. */
  interest: Decimal;
  /** Principal outstanding before this installment. */
  openingBalance: Decimal;
  /** Principal outstanding after it: `openingBalance − principal` (zero after the last). */
  closingBalance: Decimal;
}

export interface AmortizationInput {
  /** Amount lent: more than zero, whole cents. */
  principal: Decimal;
  /** Nominal annual rate as a fraction ("0.18" is 18 %): 0 ≤ apr ≤ {@link MAX_APR}, ≤ 10 decimals. */
  apr: Decimal;
  /** Number of monthly installments: a whole number from 1 to {@link MAX_TERM_MONTHS}. */
  termMonths: number;
  /** When the money is advanced; installment k is due `k` months later. */
  startDate: Date;
}

/**
 * Hard guard on the rate, far above anything a lender should offer (1000 %): it rejects nonsense
 * such as a percentage passed where a fraction is expected (18 for 18 %). A business cap such as
 * 1 (100 %) belongs to the facility rules, not to this pure maths.
 */
export const MAX_APR = new Decimal(10);

/** Longest term accepted: 30 years of monthly installments. */
export const MAX_TERM_MONTHS = 360;

/** Most decimals accepted in `apr` (a rate of 1e-29 would make `1 − (1+r)^−n` vanish at 30 places). */
export const MAX_APR_DECIMALS = 10;

/**
 * Precision of the intermediate `(1+r)^−n`: ten digits beyond the 30 of `Decimal` so that the
 * level payment is exact to far below a cent before its one rounding.
 */
const POW_DECIMALS = 40;

/**
 * The level-payment amortization schedule of SPEC §7.
 *
 * - `r = apr ÷ 12`; payment `A = P·r ÷ (1 − (1+r)^−n)` rounded to cents HALF_UP
 *   (`apr = 0`: `A = P ÷ n`, cents HALF_UP).
 * - Each installment's interest is `openingBalance × r` in cents HALF_UP (computed as
 *   `balance × apr ÷ 12` so that a rate like 0.10, whose `r` does not terminate, still rounds an
 *   exact half cent up); its principal part is `A − interest`.
 * - The last installment pays the whole remaining principal plus its interest, absorbing every
 *   rounding difference, so the principal parts always sum to exactly `P`.
 * - Installment k (1-based) is due `addMonthsClamped(startDate, k)`.
 *
 * Because cents rounding is monotone and the balance only falls, no interest part ever exceeds `A`
 * (`round(B·r) ≤ round(P·r) ≤ round(A)`), so no principal part is negative on its own. What rounding
 * *can* do is make the level payment so large, relative to a tiny principal over a long term, that
 * the installments before the last would repay everything early (the last one would then have a
 * zero or negative principal part: a refund), or round the payment to zero cents. Those loans
 * cannot be scheduled by this rule and are rejected (see {@link assertAmortizable}).
 *
 * @throws RangeError when an input is out of range, or when the principal is too small for the
 *   term for cents to amortize it.
 */
export function amortizationSchedule(input: AmortizationInput): Installment[] {
  const { principal, apr, termMonths, startDate } = input;
  assertScheduleInput(input);

  const payment = levelPayment(principal, apr, termMonths);
  const schedule: Installment[] = [];
  let balance = principal;
  for (let number = 1; number <= termMonths; number++) {
    const interest = roundUsd(balance.times(apr).div(12));
    const isLast = number === termMonths;
    const principalPart = isLast ? balance : payment.minus(interest);
    const closingBalance = balance.minus(principalPart);
    schedule.push({
      number,
      dueDate: addMonthsClamped(startDate, number),
      payment: principalPart.plus(interest),
      principal: principalPart,
      interest,
      openingBalance: balance,
      closingBalance,
    });
    balance = closingBalance;
  }
  assertAmortizable(schedule, payment);
  return schedule;
}

/**
 * The level payment `A` of SPEC §7 before the last installment's adjustment, in cents HALF_UP.
 * Inputs are assumed valid (see {@link amortizationSchedule}).
 */
export function levelPayment(principal: Decimal, apr: Decimal, termMonths: number): Decimal {
  if (apr.isZero()) return roundUsd(principal.div(termMonths));
  const r = apr.div(12);
  const discount = new Decimal(1).div(powRounded(r.plus(1), termMonths, POW_DECIMALS)); // (1+r)^−n
  return roundUsd(principal.times(r).div(new Decimal(1).minus(discount)));
}

/** Sum of the interest parts: the interest the schedule charges over its life. */
export function totalInterest(schedule: readonly Installment[]): Decimal {
  return schedule.reduce((sum, i) => sum.plus(i.interest), new Decimal(0));
}

/** Sum of the payments: principal plus total interest (Regulation Z's "total of payments"). */
export function totalPayments(schedule: readonly Installment[]): Decimal {
  return schedule.reduce((sum, i) => sum.plus(i.payment), new Decimal(0));
}

/**
 * `base^exponent` for a whole exponent ≥ 0 by repeated squaring, each product rounded HALF_UP to
 * `decimals` places. `BigNumber#pow` would keep every digit of `(1+r)^360` exactly (thousands of
 * digits) under the shared configuration; the relative error here is about `exponent × 10^−decimals`.
 */
function powRounded(base: Decimal, exponent: number, decimals: number): Decimal {
  let result = new Decimal(1);
  let square = base;
  let n = exponent;
  while (n > 0) {
    if (n % 2 === 1) result = result.times(square).decimalPlaces(decimals, BigNumber.ROUND_HALF_UP);
    n = Math.floor(n / 2);
    if (n > 0) square = square.times(square).decimalPlaces(decimals, BigNumber.ROUND_HALF_UP);
  }
  return result;
}

function assertScheduleInput({ principal, apr, termMonths, startDate }: AmortizationInput): void {
  assertCents(principal, 'principal');
  if (!principal.gt(0)) throw new RangeError(`principal must be greater than zero (got ${principal.toFixed()})`);
  if (!BigNumber.isBigNumber(apr) || !apr.isFinite()) throw new RangeError('apr must be a finite decimal');
  if (apr.lt(0) || apr.gt(MAX_APR)) {
    throw new RangeError(`apr must be a fraction from 0 to ${MAX_APR.toFixed()} (got ${apr.toFixed()})`);
  }
  if ((apr.decimalPlaces() ?? 0) > MAX_APR_DECIMALS) {
    throw new RangeError(`apr must have at most ${MAX_APR_DECIMALS} decimals (got ${apr.toFixed()})`);
  }
  if (!Number.isInteger(termMonths) || termMonths < 1 || termMonths > MAX_TERM_MONTHS) {
    throw new RangeError(`termMonths must be a whole number from 1 to ${MAX_TERM_MONTHS} (got ${termMonths})`);
  }
  assertValidDate(startDate, 'startDate');
}

/**
 * Rejects the schedules that cents rounding breaks (tiny principals over long terms): the level
 * payment must be at least one cent, and every installment before the last must leave some
 * principal for the last one to repay. Otherwise a level installment would repay principal that
 * is no longer owed and the last one would be a zero payment or a refund.
 */
function assertAmortizable(schedule: readonly Installment[], payment: Decimal): void {
  const last = schedule[schedule.length - 1];
  if (!payment.gt(0) || !last.principal.gt(0)) {
    throw new RangeError(
      `principal ${schedule[0].openingBalance.toFixed(2)} ` +
        `is too small to amortize over ${schedule.length} months: the cent-rounded level payment of ` +
        `${payment.toFixed(2)} would not leave a positive principal for the last installment`,
    );
  }
}
