import { Decimal, roundCreditsGranted } from '@ccx/core';
import { wholeDaysBetween } from '@ccx/finance';
import type { InstallmentStatus } from './facility-status.js';

/** One installment's figures, as stored. */
export interface InstallmentState {
  number: number;
  dueDate: Date;
  payment: Decimal;
  principal: Decimal;
  interest: Decimal;
  principalPaid: Decimal;
  interestPaid: Decimal;
}


export const isPaid = (i: InstallmentState) => i.principalPaid.eq(i.principal) && i.interestPaid.eq(i.interest);
const owedOn = (i: InstallmentState) => i.principal.minus(i.principalPaid).plus(i.interest.minus(i.interestPaid));

/** PAID when settled; OVERDUE once its due date has passed unpaid; PARTIALLY_PAID; else DUE. */
export function installmentStatus(i: InstallmentState, now: Date): InstallmentStatus {
  if (isPaid(i)) return 'PAID';
  if (i.dueDate.getTime() < now.getTime()) return 'OVERDUE';
  return i.principalPaid.plus(i.interestPaid).gt(0) ? 'PARTIALLY_PAID' : 'DUE';
}

/** The oldest installment due at or before `now` and not fully paid (SPEC §7), if any. */
export function oldestUnpaidDue(installments: InstallmentState[], now: Date): InstallmentState | undefined {
  return [...installments]
    .sort((a, b) => a.number - b.number)
    .find((i) => !isPaid(i) && i.dueDate.getTime() <= now.getTime());
}

/** Whole days since the oldest installment that is due and not fully paid; 0 when none. */
export function daysPastDue(installments: InstallmentState[], now: Date): number {
  const oldest = oldestUnpaidDue(installments, now);
  return oldest ? Math.max(0, wholeDaysBetween(oldest.dueDate, now)) : 0;
}

/** What is due now and unpaid: the rest of every installment due at or before `now`. */
export function pastDueAmount(installments: InstallmentState[], now: Date): Decimal {
  return installments
    .filter((i) => i.dueDate.getTime() <= now.getTime())
    .reduce((sum, i) => sum.plus(owedOn(i)), new Decimal(0));
}

export function outstandingPrincipal(principal: Decimal, installments: InstallmentState[]): Decimal {
  return installments.reduce((left, i) => left.minus(i.principalPaid), principal);
}

/** Everything still owed on the schedule: remaining principal and every unpaid interest part. */
export function totalOutstanding(installments: InstallmentState[]): Decimal {
  return installments.reduce((sum, i) => sum.plus(owedOn(i)), new Decimal(0));
}

/** ACTIVE (DPD ≤ grace), DELINQUENT (grace < DPD < default), DEFAULTED (DPD ≥ default). */
export function statusForDpd(dpd: number, graceDays: number, defaultAfterDaysPastDue: number): 'ACTIVE' | 'DELINQUENT' | 'DEFAULTED' {
  if (dpd >= defaultAfterDaysPastDue) return 'DEFAULTED';
  if (dpd > graceDays) return 'DELINQUENT';
  return 'ACTIVE';
}

/** The instant a facility with this oldest unpaid due date reaches `days` past due. */
export function instantAtDpd(oldestDue: Date, days: number): Date {
  return new Date(oldestDue.getTime() + days * 86_400_000);
}

/** What a recovery is computed from (SPEC §7), at `now`. */
export interface RecoveryInput {
  principal: Decimal;
  installments: InstallmentState[];
  now: Date;
  /** The frozen credits still in the block. */
  credits: Decimal;
  /** The block's wholesale cost basis is purchaseAmount ÷ creditsGranted. */
  purchaseAmount: Decimal;
  creditsGranted: Decimal;
  recoveryRate: Decimal;
}

export interface RecoverySplit {
  /** Accelerated amount owed: outstanding principal + unpaid interest of installments already due. */
  owed: Decimal;
  /** Interest of installments not yet due, cancelled by the acceleration. */
  cancelledInterest: Decimal;
  /** Buy-back proceeds: recoveryRate × credits × cost basis, rounded DOWN to cents. */
  proceeds: Decimal;
  /** Proceeds paid to the lender: past-due interest first, then principal. */
  toInterest: Decimal;
  toPrincipal: Decimal;
  /** Proceeds beyond what is owed, returned to the borrower. */
  surplus: Decimal;
  chargedOff: Decimal;
}

/** The maths of a recovery (SPEC §7), given the state at `now`. */
export function recoverySplit(input: RecoveryInput): RecoverySplit {
  const due = input.installments.filter((i) => i.dueDate.getTime() <= input.now.getTime());
  const notDue = input.installments.filter((i) => i.dueDate.getTime() > input.now.getTime());
  const dueInterest = due.reduce((s, i) => s.plus(i.interest.minus(i.interestPaid)), new Decimal(0));
  const cancelledInterest = notDue.reduce((s, i) => s.plus(i.interest.minus(i.interestPaid)), new Decimal(0));
  const principalLeft = outstandingPrincipal(input.principal, input.installments);
  const owed = principalLeft.plus(dueInterest);
  // Multiply before dividing: with nothing consumed the proceeds are exactly rate × purchase amount.
  const proceeds = input.recoveryRate
    .times(input.credits)
    .times(input.purchaseAmount)
    .div(input.creditsGranted)
    .decimalPlaces(2, Decimal.ROUND_DOWN);
  const toInterest = Decimal.min(proceeds, dueInterest);
  const toPrincipal = Decimal.min(proceeds.minus(toInterest), principalLeft);
  const surplus = proceeds.minus(toInterest).minus(toPrincipal);
  return { owed, cancelledInterest, proceeds, toInterest, toPrincipal, surplus, chargedOff: owed.minus(toInterest).minus(toPrincipal) };
}

/** The cost basis of financed credits: purchase amount ÷ credits granted, 6 decimals. */
export function costBasis(purchaseAmount: Decimal, credits: Decimal): Decimal {
  return purchaseAmount.div(credits).decimalPlaces(6, Decimal.ROUND_HALF_UP);
}

export { roundCreditsGranted };
