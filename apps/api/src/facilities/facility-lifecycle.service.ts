import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { DomainError, ErrorCode, InvalidStateError, NotFoundError, formatAmount, type Decimal } from '@ccx/core';
import { Ledger, withTransaction, type Posting } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { CreditsService, type CreditBlock } from '../credits/index.js';
import { FreezeService } from '../freeze/index.js';
import { AlertsService } from '../alerts/index.js';
import { AlertKind } from '../alerts/index.js';
import type { LenderFacilityCommand, LenderFreezeCommand, LenderUnfreezeCommand } from './domain/facility-commands.js';
import { daysPastDue, oldestUnpaidDue } from './domain/facility-rules.js';
import { isLive, transition, type FacilityPatch, type LifecycleEvent, type LifecycleState } from './domain/facility-lifecycle.js';
import { applyRecovery } from './domain/recovery.js';
import { FacilityEntity } from './facility.entity.js';
import { FacilityParties } from './facility-parties.js';
import { InstallmentEntity } from './installment.entity.js';

const subjectOf = (f: FacilityEntity) => ({ facilityId: f.id, borrowerId: f.borrowerId });

/** What the lifecycle machine needs of a facility (and of its block, once locked). */
export function lifecycleStateOf(f: FacilityEntity, block?: CreditBlock): LifecycleState {
  return {
    status: f.status,
    defaultSticky: f.defaultSticky,
    accepted: f.acceptedAt !== null,
    graceDays: f.graceDays,
    defaultAfterDaysPastDue: f.defaultAfterDaysPastDue,
    ...(block ? { block: { status: block.status, expiresAt: block.expiresAt } } : {}),
  };
}

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
    private readonly parties: FacilityParties,
  ) {}

  async freezeByLender({ lenderId, facilityId, reason }: LenderFreezeCommand): Promise<FacilityEntity> {
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForLender(manager, lenderId, facilityId);
      await this.transitionInTransaction(manager, facility, { type: 'LENDER_FREEZE', at: this.clock.now(), actorId: lenderId, reason });
      return facility;
    });
  }

  async unfreezeByLender({ lenderId, facilityId, reason }: LenderUnfreezeCommand): Promise<FacilityEntity> {
    const why = reason ?? 'unfrozen by the lender';
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForLender(manager, lenderId, facilityId);
      const now = this.clock.now();
      const dpd = daysPastDue(await this.installments(manager, facility.id), now);
      await this.transitionInTransaction(manager, facility, { type: 'LENDER_UNFREEZE', at: now, actorId: lenderId, reason: why, dpd });
      return facility;
    });
  }

  /**
   * Recovery (SPEC §7): accelerate the loan, buy the remaining frozen credits into platform
   * inventory at recoveryRate × their wholesale cost basis (rounded down to cents, paid by the
   * treasury), apply the proceeds to past-due interest then principal, give any surplus to the
   * borrower, and charge off what is still owed.
   */
  async recover({ lenderId, facilityId }: LenderFacilityCommand) {
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForLender(manager, lenderId, facilityId);
      // Refused before any further lock when the facility is not DEFAULTED.
      this.decide(facility, { type: 'RECOVER_REQUESTED' });
      const installments = await this.installments(manager, facility.id, true);
      const block = await this.lockBlock(manager, facility);
      const now = this.clock.now();
      const { posted: credits } = await this.ledger.balance(manager, block.ledgerAccountId);
      const outcome = applyRecovery({
        principal: facility.principal,
        installments,
        now,
        credits,
        purchaseAmount: facility.purchaseAmount!,
        creditsGranted: facility.creditsGranted!,
        recoveryRate: facility.recoveryRate,
      });
      let recovery: Awaited<ReturnType<FreezeService['recordRecoveryInTransaction']>> | undefined;
      const buyBack = async () => {
        const tx = await this.postRecovery(manager, facility, block.ledgerAccountId, credits, outcome, now);
        for (const number of outcome.changed) {
          const after = outcome.installments.find((i) => i.number === number)!;
          const i = installments.find((x) => x.number === number)!;
          Object.assign(i, { interestPaid: after.interestPaid, principalPaid: after.principalPaid });
          await manager.update(InstallmentEntity, { facilityId: facility.id, number }, { interestPaid: after.interestPaid, principalPaid: after.principalPaid });
        }
        recovery = await this.freeze.recordRecoveryInTransaction(manager, subjectOf(facility), block, {
          creditsRecovered: credits,
          amountRecovered: outcome.proceeds,
          interestRecovered: outcome.toInterest,
          principalRecovered: outcome.toPrincipal,
          surplus: outcome.surplus,
          cancelledInterest: outcome.cancelledInterest,
          chargedOffAmount: outcome.chargedOff,
          ledgerTransactionId: tx?.id ?? null,
          createdAt: now,
        });
      };
      await this.transitionInTransaction(
        manager,
        facility,
        { type: 'RECOVER', at: now, proceeds: outcome.proceeds, chargedOff: outcome.chargedOff },
        { block, recover: buyBack },
      );
      this.logger.log(`facility ${facility.id} recovered ${outcome.proceeds.toFixed(2)}, charged off ${outcome.chargedOff.toFixed(2)}`);
      return { recovery: recovery!, facility };
    });
  }

  /**
   * The recovery's one ledger transaction: the frozen credits into platform inventory, the
   * treasury's proceeds to the lender (and any surplus to the borrower), and the facility's debt
   * settled — by the recovered principal, and the rest charged off.
   */
  private async postRecovery(
    manager: EntityManager,
    facility: FacilityEntity,
    blockAccountId: string,
    credits: Decimal,
    outcome: ReturnType<typeof applyRecovery>,
    now: Date,
  ) {
    const lender = await this.parties.getInTransaction(manager, facility.lenderId);
    const borrower = await this.parties.getInTransaction(manager, facility.borrowerId);
    const postings: Posting[] = [];
    const leg = (accountId: string, direction: 'DEBIT' | 'CREDIT', amount: Decimal) => {
      if (amount.gt(0)) postings.push({ accountId, direction, amount });
    };
    leg(blockAccountId, 'DEBIT', credits);
    leg(this.platform.id('inventory'), 'CREDIT', credits);
    leg(this.platform.id('treasury'), 'DEBIT', outcome.proceeds);
    leg(lender.walletAccountId, 'CREDIT', outcome.toInterest.plus(outcome.toPrincipal));
    leg(borrower.walletAccountId, 'CREDIT', outcome.surplus);
    leg(facility.debtAccountId!, 'CREDIT', outcome.principalLeft);
    leg(facility.receivableAccountId!, 'DEBIT', outcome.principalLeft);
    if (!postings.length) return null;
    return this.ledger.post(manager, {
      idempotencyKey: `facility:${facility.id}:recovery`,
      kind: 'facility.recovery',
      metadata: {
        facilityId: facility.id,
        proceeds: outcome.proceeds.toFixed(2),
        chargedOff: outcome.chargedOff.toFixed(2),
        surplus: outcome.surplus.toFixed(2),
      },
      effectiveAt: now,
      postings,
    });
  }

  /**
   * The machine's decision on an event that needs no block, before anything else moves: the patch
   * to write, or null when it changes nothing (a retry). A refusal is INVALID_STATE.
   */
  decide(facility: FacilityEntity, event: LifecycleEvent): FacilityPatch | null {
    const step = transition(lifecycleStateOf(facility), event);
    if (step.kind === 'refused') throw new InvalidStateError(step.reason);
    if (step.kind === 'needsBlock') throw new Error(`${event.type} needs the financed block: use transitionInTransaction`);
    return step.kind === 'moved' ? step.patch : null;
  }

  /**
   * Applies a lifecycle event to a locked facility: the machine decides (locking the financed
   * block first when the decision depends on it), the effects run, then the patch is written.
   * A refusal is INVALID_STATE with the machine's message. Returns whether anything changed.
   */
  async transitionInTransaction(
    manager: EntityManager,
    facility: FacilityEntity,
    event: LifecycleEvent,
    options: { block?: CreditBlock; recover?: () => Promise<void> } = {},
  ): Promise<boolean> {
    let block = options.block;
    let step = transition(lifecycleStateOf(facility, block), event);
    if (step.kind === 'needsBlock') {
      block = await this.lockBlock(manager, facility);
      step = transition(lifecycleStateOf(facility, block), event);
    }
    if (step.kind === 'refused') throw new InvalidStateError(step.reason);
    if (step.kind !== 'moved') return false;
    for (const effect of step.effects) {
      if (effect.type === 'FREEZE_BLOCK') await this.freeze.freezeInTransaction(manager, subjectOf(facility), block!, effect);
      else if (effect.type === 'UNFREEZE_BLOCK') await this.freeze.unfreezeInTransaction(manager, subjectOf(facility), block!, effect);
      else if (effect.type === 'RELEASE_EXPIRY') await this.credits.clearBlockExpiryInTransaction(manager, block!);
      else await options.recover!();
    }
    if (Object.keys(step.patch).length) {
      Object.assign(facility, step.patch);
      await manager.update(FacilityEntity, { id: facility.id }, step.patch);
    }
    return true;
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
        if (!facility || !isLive(facility.status)) return false;
        const installments = await this.installments(manager, facility.id);
        const alerted = await this.alertOverdue(manager, facility, now);
        const event = { type: 'SERVICE' as const, dpd: daysPastDue(installments, now), oldestUnpaidDue: oldestUnpaidDue(installments, now)?.dueDate ?? null };
        return (await this.transitionInTransaction(manager, facility, event)) || alerted;
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
        await this.alerts.emitInTransaction(manager, {
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
    const facility = await manager.findOne(FacilityEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!facility || (facility.lenderId !== lenderId && facility.borrowerId !== lenderId)) throw new NotFoundError(`facility ${id} not found`);
    if (facility.lenderId !== lenderId) throw new DomainError(ErrorCode.FORBIDDEN, 'only the lender of a facility may do this');
    if (!facility.blockId) throw new InvalidStateError(`a ${facility.status} facility has no credits`);
    return facility;
  }
}
