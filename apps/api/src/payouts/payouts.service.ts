import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { DomainError, ErrorCode, InvalidStateError, NotFoundError } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import type { Principal } from '../auth/principal.js';
import { ClockService } from '../clock/clock.service.js';
import { newId } from '../common/ids.js';
import { chargingWallet } from '../common/refusals.js';
import { requestHash } from '../common/request-hash.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { OrganizationsService } from '../organizations/index.js';
import type { PayoutDecisionCommand, RequestPayoutCommand } from './domain/payout-commands.js';
import { transition, type PayoutStatus } from './domain/payout-rules.js';
import { PayoutEntity } from './payout.entity.js';

const MAX_LIST = 500;
const UNIQUE_VIOLATION = '23505';

/**
 * Payouts (SPEC §13): a seller or lender asks for money out of its available wallet funds; it
 * moves at once to the platform's pending-payouts account. The operator marks it PAID (pending →
 * bank: the money has left CCX) or REJECTED (pending → back to the wallet). Each step is one
 * database transaction with its ledger posting, so the pending-payouts account always holds
 * exactly the PENDING payouts.
 */
@Injectable()
export class PayoutsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly organizations: OrganizationsService,
  ) {}

  async request(cmd: RequestPayoutCommand): Promise<PayoutEntity> {
    const { amount, idempotencyKey: key } = cmd;
    const hash = requestHash({ amount: amount.toFixed(2) });
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(this.dataSource, (manager) => this.requestIn(manager, cmd.organizationId, amount, key, hash));
      } catch (error) {
        // Two first requests with one key raced past the advisory lock's absence (another
        // process on an older build): the unique constraint kept one; answer with it.
        if (attempt < 2 && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  /** Own payouts; the operator sees all. Newest first, at most 500. */
  async visibleTo(principal: Principal, status?: PayoutStatus | null): Promise<PayoutEntity[]> {
    const qb = this.dataSource.manager.getRepository(PayoutEntity).createQueryBuilder('p');
    if (principal.role !== 'OPERATOR') qb.andWhere('p.organization_id = :me', { me: principal.organizationId });
    if (status) qb.andWhere('p.status = :status', { status });
    return qb.orderBy('p.created_at', 'DESC').addOrderBy('p.seq', 'DESC').take(MAX_LIST).getMany();
  }

  private async requestIn(manager: EntityManager, organizationId: string, amount: PayoutEntity['amount'], key: string, hash: string): Promise<PayoutEntity> {
    // Replays of one key queue here, so the second finds the first instead of racing it.
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext('ccx:payout'), hashtext($1))`, [`${organizationId}:${key}`]);
    const existing = await manager.findOneBy(PayoutEntity, { organizationId, idempotencyKey: key });
    if (existing) {
      if (existing.requestHash !== hash) {
        throw new DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotencyKey ${key} was used for a payout of ${existing.amount.toFixed(2)} USD`);
      }
      return existing;
    }
    const org = await this.organizations.findInTransaction(manager, organizationId);
    if (!org || (org.role !== 'SELLER' && org.role !== 'LENDER')) throw new DomainError(ErrorCode.FORBIDDEN, 'only a seller or a lender may ask for a payout');
    const id = newId();
    const now = this.clock.now();
    const charge = { walletAccountId: org.walletAccountId, amount, what: 'this payout is' };
    const tx = await chargingWallet(this.ledger, manager, charge, () =>
      this.ledger.transfer(manager, {
        idempotencyKey: `payout:${id}`,
        kind: 'payout.request',
        metadata: { payoutId: id, organizationId },
        effectiveAt: now,
        debitAccountId: org.walletAccountId,
        creditAccountId: this.platform.id('pendingPayouts'),
        amount,
      }),
    );
    const payout = manager.create(PayoutEntity, {
      id,
      organizationId,
      idempotencyKey: key,
      requestHash: hash,
      amount,
      status: 'PENDING',
      reference: null,
      reason: null,
      ledgerTransactionId: tx.id,
      createdAt: now,
      resolvedAt: null,
    });
    await manager.insert(PayoutEntity, payout);
    return payout;
  }

  /**
   * The operator's decision (PAID with a reference, or REJECTED with a reason): lock the payout,
   * apply the state machine, post its effect.
   */
  decide({ payoutId, event }: PayoutDecisionCommand): Promise<PayoutEntity> {
    return withTransaction(this.dataSource, async (manager) => {
      const payout = await manager.findOne(PayoutEntity, { where: { id: payoutId }, lock: { mode: 'pessimistic_write' } });
      if (!payout) throw new NotFoundError(`payout ${payoutId} not found`);
      const verdict = transition(payout, event);
      if (!verdict.ok) throw new InvalidStateError(verdict.reason);
      if (!verdict.patch) return payout;
      const now = this.clock.now();
      if (verdict.effect === 'SETTLE') {
        await this.ledger.transfer(manager, {
          idempotencyKey: `payout:${payout.id}:paid`,
          kind: 'payout.paid',
          metadata: { payoutId: payout.id, organizationId: payout.organizationId, reference: verdict.patch.reference },
          effectiveAt: now,
          debitAccountId: this.platform.id('pendingPayouts'),
          creditAccountId: this.platform.id('bank'),
          amount: payout.amount,
        });
      } else if (verdict.effect === 'RETURN_FUNDS') {
        const org = await this.organizations.findInTransaction(manager, payout.organizationId);
        if (!org) throw new Error(`payout ${payout.id} names organization ${payout.organizationId}, which does not exist`);
        await this.ledger.transfer(manager, {
          idempotencyKey: `payout:${payout.id}:return`,
          kind: 'payout.return',
          metadata: { payoutId: payout.id, organizationId: payout.organizationId },
          effectiveAt: now,
          debitAccountId: this.platform.id('pendingPayouts'),
          creditAccountId: org.walletAccountId,
          amount: payout.amount,
        });
      }
      const patch = { status: verdict.patch.status, reference: verdict.patch.reference ?? payout.reference, reason: verdict.patch.reason ?? payout.reason, resolvedAt: now };
      await manager.update(PayoutEntity, { id: payout.id }, patch);
      return Object.assign(payout, patch);
    });
  }
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; driverError?: { code?: string } };
  return (e?.driverError?.code ?? e?.code) === UNIQUE_VIOLATION;
}
