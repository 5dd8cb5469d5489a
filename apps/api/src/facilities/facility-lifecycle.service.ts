import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode, InvalidStateError, NotFoundError, formatAmount } from '@ccx/core';
import { Ledger, withTransaction, type Posting } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { parseId } from '../common/ids.js';
import { textInput } from '../common/amounts.js';
import { CreditsService } from '../credits/credits.service.js';
import { OrganizationEntity } from '../organizations/organization.entity.js';
import { FreezeService } from '../freeze/freeze.service.js';
import { AlertsService } from '../alerts/alerts.service.js';
import { AlertKind } from '../alerts/domain/alert-kind.js';
import { daysPastDue, instantAtDpd, oldestUnpaidDue, recoverySplit, statusForDpd } from './domain/facility-rules.js';
import { FacilityEntity } from './facility.entity.js';
import { InstallmentEntity } from './installment.entity.js';

const subjectOf = (f: FacilityEntity) => ({ facilityId: f.id, borrowerId: f.borrowerId });

/**
 * A facility after acceptance (SPEC §7): servicing moves it by days past due, entering DEFAULTED
 * freezes its FINANCED block in the same transaction; the lender may freeze by hand while
 * DELINQUENT or DEFAULTED and unfreeze at any time; DEFAULTED is sticky until the lender
 * unfreezes; recovery buys the frozen credits back and charges off the rest. The block itself is
 * frozen, unfrozen and audited by the freeze module.
 *
 * Lock order everywhere: facility row, installments, the borrower's credits lock, block row, then
 * ledger balance rows (credits/buyer-lock.ts).
 */
@Injectable()
export class FacilityLifecycleService {
  private readonly logger = new Logger('FreezeController');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly alerts: AlertsService,
    private readonly credits: CreditsService,
    private readonly freeze: FreezeService,
  ) {}

  async freezeByLender(lenderId: string, id: string, reason: unknown): Promise<FacilityEntity> {
    const why = textInput(reason, 'reason', 500);
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForLender(manager, lenderId, id);
      if (facility.status !== 'DELINQUENT' && facility.status !== 'DEFAULTED') {
        throw new InvalidStateError(`credits can be frozen by hand only while DELINQUENT or DEFAULTED; this facility is ${facility.status}`);
      }
      const block = await this.lockBlock(manager, facility);
      if (block.status !== 'ACTIVE') throw new InvalidStateError(`the facility's credits are ${block.status}, not ACTIVE`);
      await this.freeze.freezeInTransaction(manager, subjectOf(facility), block, { at: this.clock.now(), actorId: lenderId, reason: why });
      return facility;
    });
  }

  async unfreezeByLender(lenderId: string, id: string, reason?: string | null): Promise<FacilityEntity> {
    const why = reason === undefined || reason === null ? 'unfrozen by the lender' : textInput(reason, 'reason', 500);
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForLender(manager, lenderId, id);
      const block = await this.lockBlock(manager, facility);
      if (block.status !== 'FROZEN') throw new InvalidStateError(`the facility's credits are ${block.status}, not FROZEN`);
      const now = this.clock.now();
      await this.freeze.unfreezeInTransaction(manager, subjectOf(facility), block, { at: now, actorId: lenderId, reason: why });
      if (facility.status === 'DEFAULTED') {
        // The lender's unfreeze ends the stickiness: from now on the status follows DPD again.
        const installments = await this.installments(manager, facility.id);
        const status = statusForDpd(daysPastDue(installments, now), facility.graceDays, facility.defaultAfterDaysPastDue);
        facility.defaultSticky = false;
        facility.status = status;
        await manager.update(FacilityEntity, { id: facility.id }, { defaultSticky: false, status });
      }
      return facility;
    });
  }

  /**
   * Recovery (SPEC §7): accelerate the loan, buy the remaining frozen credits into platform
   * inventory at recoveryRate × their wholesale cost basis (rounded down to cents, paid by the
   * treasury), apply the proceeds to past-due interest then principal, give any surplus to the
   * borrower, and charge off what is still owed.
   */
  async recover(lenderId: string, id: string) {
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForLender(manager, lenderId, id);
      if (facility.status !== 'DEFAULTED') throw new InvalidStateError(`only a DEFAULTED facility can be recovered; this one is ${facility.status}`);
      const installments = await this.installments(manager, facility.id, true);
      const block = await this.lockBlock(manager, facility);
      if (block.status === 'ACTIVE') throw new InvalidStateError('freeze the credits before recovering them');
      const now = this.clock.now();
      const { posted: credits } = await this.ledger.balance(manager, block.ledgerAccountId);
      const split = recoverySplit({
        principal: facility.principal,
        installments,
        now,
        credits,
        purchaseAmount: facility.purchaseAmount!,
        creditsGranted: facility.creditsGranted!,
        recoveryRate: facility.recoveryRate,
      });
      const lender = await manager.findOneByOrFail(OrganizationEntity, { id: facility.lenderId });
      const borrower = await manager.findOneByOrFail(OrganizationEntity, { id: facility.borrowerId });
      const principalLeft = installments.reduce((left, i) => left.minus(i.principalPaid), facility.principal);
      const postings: Posting[] = [];
      const leg = (accountId: string, direction: 'DEBIT' | 'CREDIT', amount: Decimal) => {
        if (amount.gt(0)) postings.push({ accountId, direction, amount });
      };
      leg(block.ledgerAccountId, 'DEBIT', credits);
      leg(this.platform.id('inventory'), 'CREDIT', credits);
      leg(this.platform.id('treasury'), 'DEBIT', split.proceeds);
      leg(lender.walletAccountId, 'CREDIT', split.toInterest.plus(split.toPrincipal));
      leg(borrower.walletAccountId, 'CREDIT', split.surplus);
      // The debt is settled: by the recovered principal, and the rest charged off.
      leg(facility.debtAccountId!, 'CREDIT', principalLeft);
      leg(facility.receivableAccountId!, 'DEBIT', principalLeft);
      const tx = postings.length
        ? await this.ledger.post(manager, {
            idempotencyKey: `facility:${facility.id}:recovery`,
            kind: 'facility.recovery',
            metadata: {
              facilityId: facility.id,
              proceeds: split.proceeds.toFixed(2),
              chargedOff: split.chargedOff.toFixed(2),
              surplus: split.surplus.toFixed(2),
            },
            effectiveAt: now,
            postings,
          })
        : null;
      await this.applyRecoveryToSchedule(manager, installments, now, split.toInterest, split.toPrincipal);
      const recovery = await this.freeze.recordRecoveryInTransaction(manager, subjectOf(facility), block, {
        creditsRecovered: credits,
        amountRecovered: split.proceeds,
        interestRecovered: split.toInterest,
        principalRecovered: split.toPrincipal,
        surplus: split.surplus,
        cancelledInterest: split.cancelledInterest,
        chargedOffAmount: split.chargedOff,
        ledgerTransactionId: tx?.id ?? null,
        createdAt: now,
      });
      const status = split.chargedOff.gt(0) ? 'CHARGED_OFF' : 'REPAID';
      Object.assign(facility, { status, recoveredAmount: split.proceeds, chargedOffAmount: split.chargedOff, defaultSticky: false });
      await manager.update(FacilityEntity, { id: facility.id }, {
        status,
        recoveredAmount: split.proceeds,
        chargedOffAmount: split.chargedOff,
        defaultSticky: false,
      });
      this.logger.log(`facility ${facility.id} recovered ${split.proceeds.toFixed(2)}, charged off ${split.chargedOff.toFixed(2)}`);
      return { recovery, facility };
    });
  }

  /** Everything is paid: REPAID, and the block stops expiring (and is no longer frozen). */
  async settleRepaidInTransaction(manager: EntityManager, facility: FacilityEntity, now: Date): Promise<void> {
    const block = await this.lockBlock(manager, facility);
    if (block.status === 'FROZEN') {
      await this.freeze.unfreezeInTransaction(manager, subjectOf(facility), block, { at: now, actorId: null, reason: 'repaid in full' });
    }
    // Repaid credits stop expiring — unless they already expired (past maturity): repaying late
    // does not bring expired credits back; the next servicing run sweeps them.
    const lapsed = block.expiresAt !== null && block.expiresAt.getTime() <= now.getTime();
    if ((block.status === 'ACTIVE' || block.status === 'EXHAUSTED') && !lapsed) {
      await this.credits.clearBlockExpiryInTransaction(manager, block);
    }
    facility.status = 'REPAID';
    facility.defaultSticky = false;
    await manager.update(FacilityEntity, { id: facility.id }, { status: 'REPAID', defaultSticky: false });
  }

  /**
   * Servicing: moves every live facility to the status its DPD gives at `now`. A facility that
   * reaches DEFAULTED within a clock jump is frozen at the instant it did (as if servicing had
   * run every day) — in the same transaction as the status change.
   */
  async serviceFacilities(now: Date): Promise<number> {
    const live: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM facilities WHERE status IN ('ACTIVE', 'DELINQUENT', 'DEFAULTED') ORDER BY created_at, id`,
    );
    let changed = 0;
    for (const { id } of live) {
      const moved = await withTransaction(this.dataSource, async (manager) => {
        const facility = await manager.findOne(FacilityEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!facility || !['ACTIVE', 'DELINQUENT', 'DEFAULTED'].includes(facility.status)) return false;
        if (facility.status === 'DEFAULTED' && facility.defaultSticky) return this.alertOverdue(manager, facility, now);
        const installments = await this.installments(manager, facility.id);
        const alerted = await this.alertOverdue(manager, facility, now);
        const target = statusForDpd(daysPastDue(installments, now), facility.graceDays, facility.defaultAfterDaysPastDue);
        if (target === facility.status) return alerted;
        if (target === 'DEFAULTED') {
          const at = instantAtDpd(oldestUnpaidDue(installments, now)!.dueDate, facility.defaultAfterDaysPastDue);
          Object.assign(facility, { status: 'DEFAULTED', defaultSticky: true, defaultedAt: at });
          await manager.update(FacilityEntity, { id }, { status: 'DEFAULTED', defaultSticky: true, defaultedAt: at });
          const block = await this.lockBlock(manager, facility);
          // Judged as if servicing had run at every instant: a block whose expiry (maturity) came
          // before the default instant had already expired then — expiry runs after this step and
          // takes it — so only a block still live at the default instant is frozen.
          const liveAtDefault = !block.expiresAt || at.getTime() <= block.expiresAt.getTime();
          if (block.status === 'ACTIVE' && liveAtDefault) {
            await this.freeze.freezeInTransaction(manager, subjectOf(facility), block, {
              at,
              actorId: null,
              reason: `defaulted: ${facility.defaultAfterDaysPastDue} days past due`,
            });
          }
        } else {
          facility.status = target;
          await manager.update(FacilityEntity, { id }, { status: target });
        }
        return true;
      });
      if (moved) changed++;
    }
    return changed;
  }

  /**
   * PAYMENT_OVERDUE, once per installment, to the borrower and the lender, when an installment's
   * due date passes unpaid (at that instant). Returns whether anything was emitted.
   */
  private async alertOverdue(manager: EntityManager, facility: FacilityEntity, now: Date): Promise<boolean> {
    const due: { number: number; due_date: Date; owed: string }[] = await manager.query(
      `UPDATE installments SET overdue_alerted_at = due_date
       WHERE facility_id = $1 AND due_date < $2 AND overdue_alerted_at IS NULL
         AND (principal_paid < principal OR interest_paid < interest)
       RETURNING number, due_date, (principal - principal_paid + interest - interest_paid)::text AS owed`,
      [facility.id, now],
    ).then((r: unknown) => (Array.isArray(r) && Array.isArray(r[0]) ? r[0] : r) as { number: number; due_date: Date; owed: string }[]);
    for (const i of due) {
      i.owed = formatAmount(i.owed, 2);
      for (const organizationId of [facility.borrowerId, facility.lenderId]) {
        await this.alerts.emit(manager, {
          organizationId,
          kind: AlertKind.PAYMENT_OVERDUE,
          message: `Installment ${i.number} of facility ${facility.id} (${i.owed} due ${new Date(i.due_date).toISOString()}) is overdue.`,
          data: { facilityId: facility.id, installment: i.number, owed: i.owed, dueDate: new Date(i.due_date).toISOString() },
          at: new Date(i.due_date),
        });
      }
    }
    return due.length > 0;
  }

  private async applyRecoveryToSchedule(manager: EntityManager, installments: InstallmentEntity[], now: Date, toInterest: Decimal, toPrincipal: Decimal) {
    let interest = toInterest;
    let principal = toPrincipal;
    for (const i of installments) {
      const before = [i.interestPaid, i.principalPaid];
      if (i.dueDate.getTime() <= now.getTime()) {
        const pay = Decimal.min(interest, i.interest.minus(i.interestPaid));
        i.interestPaid = i.interestPaid.plus(pay);
        interest = interest.minus(pay);
      }
      const pay = Decimal.min(principal, i.principal.minus(i.principalPaid));
      i.principalPaid = i.principalPaid.plus(pay);
      principal = principal.minus(pay);
      if (!before[0].eq(i.interestPaid) || !before[1].eq(i.principalPaid)) {
        await manager.update(InstallmentEntity, { facilityId: i.facilityId, number: i.number }, { interestPaid: i.interestPaid, principalPaid: i.principalPaid });
      }
    }
  }

  private installments(manager: EntityManager, facilityId: string, lock = false): Promise<InstallmentEntity[]> {
    return manager.find(InstallmentEntity, {
      where: { facilityId },
      order: { number: 'ASC' },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /** The facility's block, locked — after the borrower's credits lock (see credits/buyer-lock.ts). */
  private async lockBlock(manager: EntityManager, facility: FacilityEntity) {
    const block = await this.credits.lockBlockInTransaction(manager, facility.borrowerId, facility.blockId!);
    if (!block) throw new InvalidStateError('this facility has no credits yet');
    return block;
  }

  /** Only the lender acts on a facility: its borrower is FORBIDDEN, anyone else sees nothing. */
  private async lockForLender(manager: EntityManager, lenderId: string, id: string): Promise<FacilityEntity> {
    const facility = await manager.findOne(FacilityEntity, { where: { id: parseId(id, 'facility') }, lock: { mode: 'pessimistic_write' } });
    if (!facility || (facility.lenderId !== lenderId && facility.borrowerId !== lenderId)) throw new NotFoundError(`facility ${id} not found`);
    if (facility.lenderId !== lenderId) throw new DomainError(ErrorCode.FORBIDDEN, 'only the lender of a facility may do this');
    if (!facility.blockId) throw new InvalidStateError(`a ${facility.status} facility has no credits`);
    return facility;
  }
}
