import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { In } from 'typeorm';
import type { Decimal } from '@ccx/core';
import { Ledger } from '@ccx/ledger';
import { newId } from '../common/ids.js';
import { CreditsService, type CreditBlock } from '../credits/index.js';
import { AlertsService } from '../alerts/index.js';
import { AlertKind } from '../alerts/index.js';
import { FreezeEventEntity } from './freeze-event.entity.js';
import { RecoveryEntity } from './recovery.entity.js';

/**
 * Whose credits and why: the freeze controller acts on a borrower's block on behalf of a
 * financing arrangement it only knows by id (`facilityId`), which names the audit trail.
 */
export interface FreezeSubject {
  facilityId: string;
  borrowerId: string;
}

export interface FreezeAct {
  at: Date;
  /** The organization that acted; null when the freeze controller itself did (default, repayment). */
  actorId: string | null;
  reason: string;
}

export interface RecoveryRecord {
  creditsRecovered: Decimal;
  amountRecovered: Decimal;
  interestRecovered: Decimal;
  principalRecovered: Decimal;
  surplus: Decimal;
  cancelledInterest: Decimal;
  chargedOffAmount: Decimal;
  ledgerTransactionId: string | null;
  createdAt: Date;
}

/**
 * The freeze controller (SPEC §7): freezes and unfreezes a borrower's financed block, keeps the
 * audit trail (freeze events, recoveries) and tells the borrower. When to freeze is the
 * facility lifecycle's decision (facilities/domain/facility-lifecycle.ts), never this module's.
 * A frozen block is never consumed and its open holds are released.
 *
 * Lock order: the caller's facility row and installments, then the block (the borrower's credits
 * lock first, credits/buyer-lock.ts), then ledger balance rows.
 */
@Injectable()
export class FreezeService {
  private readonly logger = new Logger('FreezeController');

  constructor(
    private readonly ledger: Ledger,
    private readonly alerts: AlertsService,
    private readonly credits: CreditsService,
  ) {}

  async freezeInTransaction(manager: EntityManager, subject: FreezeSubject, block: CreditBlock, act: FreezeAct): Promise<void> {
    const before = await this.credits.availableOfInTransaction(manager, block.organizationId, act.at);
    await this.credits.setBlockStatusInTransaction(manager, block, 'FROZEN');
    // Frozen credits cannot be spent: open holds on them are released now.
    for (const hold of await this.ledger.pendingHolds(manager, block.ledgerAccountId)) {
      await this.ledger.voidHold(manager, hold.id, act.at);
    }
    await this.audit(manager, subject, block, 'FREEZE', act);
    // A freeze lowers what the buyer can spend: a low-balance crossing like usage (SPEC §8).
    const after = await this.credits.availableOfInTransaction(manager, block.organizationId, act.at);
    await this.alerts.balanceChangedInTransaction(manager, { organizationId: block.organizationId, before, after, at: act.at });
  }

  async unfreezeInTransaction(manager: EntityManager, subject: FreezeSubject, block: CreditBlock, act: FreezeAct): Promise<void> {
    await this.credits.setBlockStatusInTransaction(manager, block, 'ACTIVE');
    await this.audit(manager, subject, block, 'UNFREEZE', act);
  }

  /** The frozen credits were bought back: the block is RECOVERED and the recovery recorded. */
  async recordRecoveryInTransaction(
    manager: EntityManager,
    subject: FreezeSubject,
    block: CreditBlock,
    recovery: RecoveryRecord,
  ): Promise<RecoveryEntity> {
    await this.credits.setBlockStatusInTransaction(manager, block, 'RECOVERED');
    const row = manager.create(RecoveryEntity, { id: newId(), facilityId: subject.facilityId, ...recovery });
    await manager.insert(RecoveryEntity, row);
    return row;
  }

  /** The audit trails of these facilities, oldest first. */
  eventsInTransaction(manager: EntityManager, facilityIds: string[]): Promise<FreezeEventEntity[]> {
    if (!facilityIds.length) return Promise.resolve([]);
    return manager.find(FreezeEventEntity, { where: { facilityId: In(facilityIds) }, order: { id: 'ASC' } });
  }

  private async audit(manager: EntityManager, subject: FreezeSubject, block: CreditBlock, action: 'FREEZE' | 'UNFREEZE', act: FreezeAct): Promise<void> {
    const { at, actorId, reason } = act;
    await manager.insert(FreezeEventEntity, { facilityId: subject.facilityId, blockId: block.id, action, actorId, reason, at });
    // The borrower hears of it in the same transaction (alert + webhook outbox).
    await this.alerts.emitInTransaction(manager, {
      organizationId: subject.borrowerId,
      kind: action === 'FREEZE' ? AlertKind.CREDITS_FROZEN : AlertKind.CREDITS_UNFROZEN,
      message: action === 'FREEZE' ? `Your financed credits are frozen: ${reason}.` : `Your financed credits are unfrozen: ${reason}.`,
      data: { facilityId: subject.facilityId, blockId: block.id, reason },
      at,
    });
    this.logger.log(`${action} facility ${subject.facilityId} block ${block.id} by ${actorId ?? 'the freeze controller'}: ${reason}`);
  }
}
