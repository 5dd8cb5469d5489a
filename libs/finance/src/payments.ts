import { Decimal, roundUsd } from '@ccx/core';
import { assertCents, assertValidDate } from './validation.js';

/** One installment as it stands: its scheduled parts and what has been paid of each. */
export interface ScheduleState {
  number: number;
  dueDate: Date;
  payment: Decimal;
  principal: Decimal;
  interest: Decimal;
  principalPaid: Decimal;
  interestPaid: Decimal;
}

/** What one payment settles on one installment. */
export interface PaymentLine {
  number: number;
  interest: Decimal;
  principal: Decimal;
}

export interface PaymentInput {
  /** The facility's installments, any order; not modified. */
  installments: readonly ScheduleState[];
  /** More than zero, whole cents, at most {@link payoffAmount}. */
  amount: Decimal;
  /** When the payment is made: installments due at or before it are past due. */
  now: Date;
  /** Nominal annual rate (the schedule's): re-amortized interest is `balance × apr ÷ 12`, cents HALF_UP. */
  apr: Decimal;
  /** The schedule's level payment `A`, kept when later installments are re-amortized. */
  levelPayment: Decimal;
}

export interface PaymentResult {
  /** The settled parts, per installment in number order (installments with nothing settled omitted). */
  lines: PaymentLine[];
  /** Every installment after the payment: paid parts added, later ones re-amortized when principal was prepaid. */
  installments: ScheduleState[];
  /** Principal paid beyond the past-due and next installments (0 when none). */
  prepaidPrincipal: Decimal;
}

const ZERO = new Decimal(0);
const byNumber = (a: ScheduleState, b: ScheduleState) => a.number - b.number;
const unpaidInterest = (i: ScheduleState) => i.interest.minus(i.interestPaid);
const unpaidPrincipal = (i: ScheduleState) => i.principal.minus(i.principalPaid);

/**
 * The installment of the period running at `now`: the first one due after `now`. Its interest is
 * the one being earned; the interest of every later installment is not earned yet.
 */
export function nextInstallment(installments: readonly ScheduleState[], now: Date): ScheduleState | undefined {
  return [...installments].sort(byNumber).find((i) => i.dueDate.getTime() > now.getTime());
}

/**
 * What closes the facility at `now` (SPEC §7): the unpaid interest of the installments already due
 * and of the next installment, plus all unpaid principal. The interest of later installments is
 * never owed ahead of its period.
 */
export function payoffAmount(installments: readonly ScheduleState[], now: Date): Decimal {
  assertValidDate(now, 'now');
  const next = nextInstallment(installments, now);
  return installments.reduce((sum, i) => {
    const earned = i.dueDate.getTime() <= now.getTime() || i.number === next?.number;
    return sum.plus(unpaidPrincipal(i)).plus(earned ? unpaidInterest(i) : ZERO);
  }, ZERO);
}

/**
 * Applies a payment (SPEC §7): the installments already due first, oldest first, then the next
 * installment (even before its due date), each interest before principal. What is left is
 * prepaid principal: it is recorded on the next installment (whose principal part grows by it) and
 * every later installment is re-amortized on the lower balance with the same level payment `A` —
 * interest `balance × apr ÷ 12` (cents HALF_UP), principal `A − interest`, the installment that
 * reaches zero (or the last) taking the whole remaining balance — so the loan ends in fewer months
 * and the installments beyond that become zero. Interest is never charged ahead of its period.
 *
 * A borrower who pays each installment as scheduled never prepays, so the schedule is unchanged.
 *
 * @throws RangeError when the amount is not positive whole cents or exceeds {@link payoffAmount}.
 */
export function applyPayment(input: PaymentInput): PaymentResult {
  const { amount, now, apr, levelPayment } = input;
  assertCents(amount, 'amount');
  assertValidDate(now, 'now');
  if (!amount.gt(0)) throw new RangeError(`amount must be greater than zero (got ${amount.toFixed(2)})`);
  const payoff = payoffAmount(input.installments, now);
  if (amount.gt(payoff)) throw new RangeError(`amount ${amount.toFixed(2)} exceeds the payoff amount ${payoff.toFixed(2)}`);

  const installments = input.installments.map((i) => ({ ...i })).sort(byNumber);
  const next = nextInstallment(installments, now);
  const settled = new Map<number, PaymentLine>();
  let left = amount;
  const settle = (i: ScheduleState, interest: Decimal, principal: Decimal) => {
    if (!interest.gt(0) && !principal.gt(0)) return;
    i.interestPaid = i.interestPaid.plus(interest);
    i.principalPaid = i.principalPaid.plus(principal);
    const line = settled.get(i.number) ?? { number: i.number, interest: ZERO, principal: ZERO };
    settled.set(i.number, { number: i.number, interest: line.interest.plus(interest), principal: line.principal.plus(principal) });
    left = left.minus(interest).minus(principal);
  };

  // Past due, oldest first, then the next installment: interest before principal on each.
  const earning = installments.filter((i) => i.dueDate.getTime() <= now.getTime() || i.number === next?.number);
  for (const i of earning) {
    if (left.isZero()) break;
    const interest = Decimal.min(left, unpaidInterest(i));
    const principal = Decimal.min(left.minus(interest), unpaidPrincipal(i));
    settle(i, interest, principal);
  }

  const prepaid = left;
  if (prepaid.gt(0)) {
    // Only possible with a next installment (otherwise everything is due and payoff bounds the
    // amount). The prepayment becomes part of its principal, paid at once.
    const anchor = next!;
    anchor.principal = anchor.principal.plus(prepaid);
    anchor.payment = anchor.principal.plus(anchor.interest);
    settle(anchor, ZERO, prepaid);
    reamortizeAfter(installments, anchor.number, prepaid, apr, levelPayment);
  }
  return {
    lines: [...settled.values()].sort((a, b) => a.number - b.number),
    installments,
    prepaidPrincipal: prepaid,
  };
}

/**
 * Re-amortizes the installments after `number` (none of which is paid) on the principal they
 * still carry less the `prepaid` principal moved to installment `number`: the same level payment
 * over as many months as it now takes.
 */
function reamortizeAfter(installments: ScheduleState[], number: number, prepaid: Decimal, apr: Decimal, level: Decimal): void {
  const later = installments.filter((i) => i.number > number);
  let balance = later.reduce((sum, i) => sum.plus(unpaidPrincipal(i)), ZERO).minus(prepaid);
  for (const [k, i] of later.entries()) {
    const interest = balance.isZero() ? ZERO : roundUsd(balance.times(apr).div(12));
    const isLast = k === later.length - 1;
    const principal = isLast || level.minus(interest).gte(balance) ? balance : level.minus(interest);
    i.interest = interest;
    i.principal = principal;
    i.payment = principal.plus(interest);
    balance = balance.minus(principal);
  }
}
