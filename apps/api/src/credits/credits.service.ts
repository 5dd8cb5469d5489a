import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { Decimal } from '@ccx/core';
import { Ledger, namedRows } from '@ccx/ledger';
import { blockAccountCode } from '../ledger/chart-of-accounts.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { ClockService } from '../clock/clock.service.js';
import { newId } from '../common/ids.js';
import { lockBuyerCredits } from './buyer-lock.js';
import { CreditBlockEntity } from './credit-block.entity.js';
import type { CreditType } from './domain/credit-type.js';
import { toCreditBlockModel, type CreditBalanceModel, type CreditBlockModel } from './models/credit-block.model.js';

/** A credit block as other modules hold it (they never import the entity). */
export type CreditBlock = CreditBlockEntity;

export interface NewBlock {
  organizationId: string;
  type: CreditType;
  granted: Decimal;
  unitPrice: Decimal;
  expiresAt: Date | null;
  createdAt: Date;
  purchaseId?: string | null;
  reservationId?: string | null;
  facilityId?: string | null;
}

/** Credit blocks and balances (SPEC §6). Each block is backed by its own ledger account. */
@Injectable()
export class CreditsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
  ) {}

  /**
   * Creates a block and its (empty) ledger account; the caller posts the credits into it in the
   * same transaction. The block id is chosen by the caller's flow so it can name the account.
   */
  async createBlockInTransaction(manager: EntityManager, input: NewBlock): Promise<CreditBlockEntity> {
    const id = newId();
    const account = await this.platform.createLimited(manager, blockAccountCode(id), 'CREDIT', input.organizationId);
    const block = manager.create(CreditBlockEntity, {
      id,
      organizationId: input.organizationId,
      type: input.type,
      status: 'ACTIVE',
      granted: input.granted,
      unitPrice: input.unitPrice,
      expiresAt: input.expiresAt,
      facilityId: input.facilityId ?? null,
      purchaseId: input.purchaseId ?? null,
      reservationId: input.reservationId ?? null,
      ledgerAccountId: account.id,
      createdAt: input.createdAt,
    });
    await manager.insert(CreditBlockEntity, block);
    return block;
  }

  async getBlockInTransaction(manager: EntityManager, id: string): Promise<CreditBlock> {
    return manager.findOneByOrFail(CreditBlockEntity, { id });
  }

  /** When the last block delivered for a reservation was created; null before its first delivery. */
  async lastReservationDeliveryInTransaction(manager: EntityManager, reservationId: string): Promise<Date | null> {
    const [{ last }] = await manager.query(`SELECT max(created_at) AS last FROM credit_blocks WHERE reservation_id = $1`, [reservationId]);
    return last === null ? null : new Date(last);
  }

  /** Blocks as the API shows them, with remaining and held read from the ledger. */
  private async views(manager: EntityManager, blocks: CreditBlockEntity[]): Promise<CreditBlockModel[]> {
    const balances = await this.ledger.balances(manager, blocks.map((b) => b.ledgerAccountId));
    return blocks.map((b) => {
      const bal = balances.get(b.ledgerAccountId);
      return toCreditBlockModel(b, bal?.posted ?? new Decimal(0), bal?.held ?? new Decimal(0));
    });
  }

  async view(block: CreditBlockEntity): Promise<CreditBlockModel> {
    return (await this.views(this.dataSource.manager, [block]))[0];
  }

  /** Views of these blocks (any owner), for modules that only hold block ids. */
  async viewsByIdsInTransaction(manager: EntityManager, ids: string[]): Promise<CreditBlockModel[]> {
    return ids.length ? this.views(manager, await manager.find(CreditBlockEntity, { where: { id: In(ids) } })) : [];
  }

  /** A buyer's block, locked for a status change: the buyer's credits lock first (buyer-lock.ts). */
  async lockBlockInTransaction(manager: EntityManager, organizationId: string, blockId: string): Promise<CreditBlockEntity | null> {
    await lockBuyerCredits(manager, organizationId);
    return manager.findOne(CreditBlockEntity, { where: { id: blockId }, lock: { mode: 'pessimistic_write' } });
  }

  /** Freezes, unfreezes and recoveries (the freeze module) set a locked block's status here. */
  async setBlockStatusInTransaction(manager: EntityManager, block: CreditBlockEntity, status: CreditBlockEntity['status']): Promise<void> {
    block.status = status;
    await manager.update(CreditBlockEntity, { id: block.id }, { status });
  }

  /** A repaid facility's credits stop expiring. */
  async clearBlockExpiryInTransaction(manager: EntityManager, block: CreditBlockEntity): Promise<void> {
    block.expiresAt = null;
    await manager.update(CreditBlockEntity, { id: block.id }, { expiresAt: null });
  }

  /** available = remaining of ACTIVE blocks − open holds; frozen = remaining of FROZEN blocks. */
  async balance(organizationId: string): Promise<CreditBalanceModel> {
    const manager = this.dataSource.manager;
    const blocks = await manager.find(CreditBlockEntity, { where: { organizationId }, order: { createdAt: 'ASC', id: 'ASC' } });
    const views = await this.views(manager, blocks);
    const now = this.clock.now();
    let available = new Decimal(0);
    let held = new Decimal(0);
    let frozen = new Decimal(0);
    views.forEach((v, i) => {
      const status = blocks[i].status;
      // An ACTIVE block past its expiry (servicing has not swept it yet) is spent by nobody.
      const expired = blocks[i].expiresAt !== null && blocks[i].expiresAt!.getTime() <= now.getTime();
      if (status === 'ACTIVE' && !expired) {
        available = available.plus(v.remaining).minus(v.held);
        held = held.plus(v.held);
      } else if (status === 'FROZEN') {
        frozen = frozen.plus(v.remaining);
      }
    });
    return { available: available.toFixed(6), held: held.toFixed(6), frozen: frozen.toFixed(6), blocks: views };
  }

  /**
   * Servicing: ACTIVE blocks past `expiresAt` become EXPIRED; what remains leaves through a
   * ledger transaction (effective at the expiry instant), never by editing a balance.
   */
  /**
   * What a buyer can spend (SPEC §6): remaining − open holds of its ACTIVE blocks not past their
   * expiry — or, with `includeDue`, also those whose expiry has come but that are not swept yet.
   * Read inside the caller's transaction, after the buyer's lock, to judge a low-balance crossing.
   */
  async availableOfInTransaction(manager: EntityManager, organizationId: string, now: Date, includeDue = false): Promise<Decimal> {
    const rows: { account: string }[] = await manager.query(
      `SELECT ledger_account_id::text AS account FROM credit_blocks
        WHERE organization_id = $1 AND status = 'ACTIVE' AND (expires_at IS NULL OR expires_at > $2 OR $3)`,
      [organizationId, now, includeDue],
    );
    if (!rows.length) return new Decimal(0);
    const balances = await this.ledger.balances(manager, rows.map((r) => r.account));
    let total = new Decimal(0);
    for (const b of balances.values()) total = total.plus(b.available);
    return total;
  }

  /**
   * Expires due blocks; returns how many, and for each buyer what it could spend before and
   * after (an expiry lowers it: a low-balance crossing, SPEC §8 — the caller raises the alert).
   */
  async expireDueWithDropsInTransaction(manager: EntityManager, now: Date): Promise<{ expired: number; drops: { organizationId: string; before: Decimal; after: Decimal }[] }> {
    const owners: { organization_id: string }[] = await manager.query(
      `SELECT DISTINCT organization_id FROM credit_blocks
       WHERE status = 'ACTIVE' AND expires_at IS NOT NULL AND expires_at <= $1 ORDER BY organization_id`,
      [now],
    );
    for (const { organization_id } of owners) await lockBuyerCredits(manager, organization_id);
    const before = new Map<string, Decimal>();
    for (const { organization_id } of owners) before.set(organization_id, await this.availableOfInTransaction(manager, organization_id, now, true));
    const expired = await this.expireDue(manager, now, owners.map((o) => o.organization_id));
    const drops = [];
    for (const [organizationId, was] of before) drops.push({ organizationId, before: was, after: await this.availableOfInTransaction(manager, organizationId, now) });
    return { expired, drops };
  }

  /**
   * Expires the due blocks of these buyers, whose credit locks the caller already holds (taken in
   * sorted order before any block row: the lock order usage and freezes follow). Only they are
   * expired, so the drops reported for them are the whole of what changed; a block that fell due
   * meanwhile for another buyer waits for the next run.
   */
  private async expireDue(manager: EntityManager, now: Date, owners: string[]): Promise<number> {
    if (!owners.length) return 0;
    const due = await manager
      .getRepository(CreditBlockEntity)
      .createQueryBuilder('b')
      .setLock('pessimistic_write')
      .where(`b.status = 'ACTIVE' AND b.expires_at IS NOT NULL AND b.expires_at <= :now`, { now })
      .andWhere('b.organization_id IN (:...owners)', { owners })
      .orderBy('b.expires_at')
      .getMany();
    for (const block of due) {
      // Open holds on the block end with it.
      for (const hold of await this.ledger.pendingHolds(manager, block.ledgerAccountId)) {
        await this.ledger.voidHold(manager, hold.id, block.expiresAt!);
      }
      const { posted } = await this.ledger.balance(manager, block.ledgerAccountId);
      if (posted.gt(0)) {
        await this.ledger.transfer(manager, {
          idempotencyKey: `block:${block.id}:expire`,
          kind: 'block.expire',
          metadata: { blockId: block.id, organizationId: block.organizationId },
          effectiveAt: block.expiresAt!,
          debitAccountId: block.ledgerAccountId,
          creditAccountId: this.platform.id('expired'),
          amount: posted,
        });
      }
      await manager.update(CreditBlockEntity, { id: block.id }, { status: 'EXPIRED' });
    }
    return due.length;
  }

  /**
   * Metering's burn-down, in the caller's transaction after the buyers' locks: their spendable
   * blocks (ACTIVE, not past expiry) and their FROZEN ones (a refusal says what is frozen).
   */
  spendableBlocksInTransaction(manager: EntityManager, organizationIds: string[], now: Date): Promise<SpendableBlockRow[]> {
    // A named statement: metering reads it on every charge.
    return namedRows(manager, SPENDABLE_BLOCKS, [organizationIds, now]);
  }

  /** A buyer's ACTIVE blocks, whatever their expiry, with their ledger accounts. */
  activeBlocksInTransaction(manager: EntityManager, organizationId: string): Promise<{ id: string; account: string }[]> {
    return manager.query(`SELECT id, ledger_account_id::text AS account FROM credit_blocks WHERE organization_id = $1 AND status = 'ACTIVE'`, [
      organizationId,
    ]);
  }

  /** Blocks that usage drew to nothing, with nothing held: ACTIVE → EXHAUSTED. */
  async markExhaustedInTransaction(manager: EntityManager, blockIds: string[]): Promise<void> {
    if (blockIds.length) await manager.query(`UPDATE credit_blocks SET status = 'EXHAUSTED' WHERE id = ANY($1::uuid[]) AND status = 'ACTIVE'`, [blockIds]);
  }
}

const SPENDABLE_BLOCKS = {
  name: 'ccx_credits_spendable_blocks',
  text: `SELECT id, organization_id, status, expires_at, created_at, ledger_account_id::text AS ledger_account_id
       FROM credit_blocks
       WHERE organization_id = ANY($1::uuid[])
         AND (status = 'FROZEN' OR (status = 'ACTIVE' AND (expires_at IS NULL OR expires_at > $2)))`,
};

/** A block as metering draws on it (raw columns: read on every charge, no mapping). */
export interface SpendableBlockRow {
  id: string;
  organization_id: string;
  status: string;
  expires_at: Date | null;
  created_at: Date;
  ledger_account_id: string;
}
