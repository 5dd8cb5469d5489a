import { Decimal } from '@ccx/core';
import { recoverySplit, type InstallmentState, type RecoveryInput, type RecoverySplit } from './facility-rules.js';

export type { RecoveryInput };

export interface RecoveryOutcome extends RecoverySplit {
  /** Principal still owed before the recovery: the facility's ledger debt it settles. */
  principalLeft: Decimal;
  /** The schedule after the proceeds are applied (same order as given). */
  installments: InstallmentState[];
  /** Numbers of the installments whose paid parts changed. */
  changed: number[];
}

/**
 * A recovery (SPEC §7) in numbers: the split of the buy-back proceeds (`recoverySplit`), then the
 * proceeds spread over the schedule in installment order — interest only on installments already
 * due (the rest is cancelled by the acceleration), principal on every installment, oldest first.
 */
export function applyRecovery(input: RecoveryInput): RecoveryOutcome {
  const split = recoverySplit(input);
  const principalLeft = input.installments.reduce((left, i) => left.minus(i.principalPaid), input.principal);
  let interest = split.toInterest;
  let principal = split.toPrincipal;
  const changed: number[] = [];
  const installments = input.installments.map((i) => {
    let { interestPaid, principalPaid } = i;
    if (i.dueDate.getTime() <= input.now.getTime()) {
      const pay = Decimal.min(interest, i.interest.minus(interestPaid));
      interestPaid = interestPaid.plus(pay);
      interest = interest.minus(pay);
    }
    const pay = Decimal.min(principal, i.principal.minus(principalPaid));
    principalPaid = principalPaid.plus(pay);
    principal = principal.minus(pay);
    if (!interestPaid.eq(i.interestPaid) || !principalPaid.eq(i.principalPaid)) changed.push(i.number);
    return { ...i, interestPaid, principalPaid };
  });
  return { ...split, principalLeft, installments, changed };
}
