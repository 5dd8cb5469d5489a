import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError, Decimal, DomainError, ErrorCode, NotFoundError } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { applyPayment, levelPayment, payoffAmount } from '@ccx/finance';
import { ClockService } from '../clock/clock.service.js';
import { newId } from '../common/ids.js';
import { chargingWallet } from '../common/refusals.js';
import { requestHash } from '../common/request-hash.js';
import type { RepayFacilityCommand } from './domain/facility-commands.js';
import { daysPastDue, totalOutstanding } from './domain/facility-rules.js';
import { FacilityEntity } from './facility.entity.js';
import { FacilityParties } from './facility-parties.js';
import { InstallmentEntity } from './installment.entity.js';
import { RepaymentEntity } from './repayment.entity.js';
import { FacilityLifecycleService } from './facility-lifecycle.service.js';

/**
 * Repayments (SPEC §7): from the borrower's wallet to the lender's: past-due installments first
 * (oldest first), then the next installment, interest before principal; anything beyond is
 * principal paid ahead, and the later installments are re-amortized (`applyPayment` in
 * @ccx/finance). Interest is never charged ahead of its period; more than the payoff amount is
 * refused. The principal part also settles the facility's ledger debt.
 */
@Injectable()
export class RepaymentsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly clock: ClockService,
    private readonly lifecycle: FacilityLifecycleService,
    private readonly parties: FacilityParties,
  ) {}

  async repay(cmd: RepayFacilityCommand): Promise<{ repayment: RepaymentEntity; facility: FacilityEntity }> {
    const { facilityId, amount, idempotencyKey: key } = cmd;
    const hash = requestHash({ facilityId, amount: amount.toFixed(2) });

    return withTransaction(this.dataSource, async (manager) => {
      // Lock order: facility, then (through the ledger) balance rows — as servicing does.
      const facility = await manager.findOne(FacilityEntity, { where: { id: facilityId }, lock: { mode: 'pessimistic_write' } });
      if (!facility || facility.borrowerId !== cmd.borrowerId) throw new NotFoundError(`facility ${facilityId} not found`);
      const existing = await manager.findOneBy(RepaymentEntity, { borrowerId: cmd.borrowerId, idempotencyKey: key });
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotencyKey ${key} was used for a different repayment`);
        }
        return { repayment: existing, facility };
      }
      await this.lifecycle.transitionInTransaction(manager, facility, { type: 'REPAY' });
      const installments = await manager.find(InstallmentEntity, { where: { facilityId }, order: { number: 'ASC' }, lock: { mode: 'pessimistic_write' } });
      const now = this.clock.now();
      const payoff = payoffAmount(installments, now);
      if (amount.gt(payoff)) {
        throw new BadInputError(`the amount exceeds the payoff amount (${payoff.toFixed(2)} USD closes this facility today)`, { field: 'amount' });
      }
      const applied = applyPayment({
        installments,
        amount,
        now,
        apr: facility.apr,
        levelPayment: levelPayment(facility.principal, facility.apr, facility.termMonths),
      });
      const lines = applied.lines;
      const interestPaid = lines.reduce((s, l) => s.plus(l.interest), new Decimal(0));
      const principalPaid = lines.reduce((s, l) => s.plus(l.principal), new Decimal(0));
      const borrower = await this.parties.getInTransaction(manager, facility.borrowerId);
      const lender = await this.parties.getInTransaction(manager, facility.lenderId);
      const repaymentId = newId();
      const charge = { walletAccountId: borrower.walletAccountId, amount, what: 'this repayment is' };
      const tx = await chargingWallet(this.ledger, manager, charge, () => this.ledger.post(manager, {
        idempotencyKey: `repayment:${repaymentId}`,
        kind: 'facility.repayment',
        metadata: { facilityId, repaymentId, interest: interestPaid.toFixed(2), principal: principalPaid.toFixed(2) },
        effectiveAt: now,
        postings: [
          { accountId: borrower.walletAccountId, direction: 'DEBIT', amount },
          { accountId: lender.walletAccountId, direction: 'CREDIT', amount },
          ...(principalPaid.gt(0)
            ? [
                { accountId: facility.debtAccountId!, direction: 'CREDIT' as const, amount: principalPaid },
                { accountId: facility.receivableAccountId!, direction: 'DEBIT' as const, amount: principalPaid },
              ]
            : []),
        ],
      }));
      // Persist what changed: paid parts, and the re-amortized parts after a prepayment.
      for (const after of applied.installments) {
        const i = installments.find((x) => x.number === after.number)!;
        const changed = (['payment', 'principal', 'interest', 'principalPaid', 'interestPaid'] as const).filter((k) => !i[k].eq(after[k]));
        if (!changed.length) continue;
        for (const k of changed) i[k] = after[k];
        await manager.update(InstallmentEntity, { facilityId, number: i.number }, Object.fromEntries(changed.map((k) => [k, after[k]])));
      }
      const repayment = manager.create(RepaymentEntity, {
        id: repaymentId,
        facilityId,
        borrowerId: cmd.borrowerId,
        idempotencyKey: key,
        requestHash: hash,
        amount,
        interestPaid,
        principalPaid,
        lines: lines.map((l) => ({ number: l.number, interest: l.interest.toFixed(2), principal: l.principal.toFixed(2) })),
        ledgerTransactionId: tx.id,
        createdAt: now,
      });
      await manager.insert(RepaymentEntity, repayment);

      // Paid in full: REPAID (the credits unfrozen and no longer expiring); else the arrears left decide.
      await this.lifecycle.transitionInTransaction(manager, facility, {
        type: 'PAYMENT_APPLIED',
        at: now,
        paidOff: totalOutstanding(installments).isZero(),
        dpd: daysPastDue(installments, now),
      });
      return { repayment, facility };
    });
  }
}
