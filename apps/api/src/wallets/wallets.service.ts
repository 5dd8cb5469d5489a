import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { formatAmount, InvalidStateError, NotFoundError } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { OrganizationsService } from '../organizations/index.js';
import type { RecordDepositCommand } from './domain/deposit-command.js';

export interface WalletView {
  currency: 'USD';
  /** Cents, e.g. "1800.00". */
  available: string;
  held: string;
}

/** USD wallets (SPEC §3): one limited ledger account per organization. */
@Injectable()
export class WalletsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly organizations: OrganizationsService,
  ) {}

  async walletOf(organizationId: string): Promise<WalletView> {
    const org = await this.organizations.find(organizationId);
    if (!org) throw new NotFoundError(`organization ${organizationId} not found`);
    const balance = await this.ledger.balance(this.dataSource.manager, org.walletAccountId);
    return { currency: 'USD', available: formatAmount(balance.available, 2), held: formatAmount(balance.held, 2) };
  }

  /**
   * An operator-confirmed bank or card payment into a wallet. The reference is the idempotency
   * key: the same reference with the same organization and amount is applied once; with anything
   * else it is IDEMPOTENCY_CONFLICT.
   */
  async recordDeposit({ organizationId, amount, reference }: RecordDepositCommand): Promise<WalletView> {
    await withTransaction(this.dataSource, async (manager) => {
      const org = await this.organizations.findInTransaction(manager, organizationId);
      if (!org) throw new NotFoundError(`organization ${organizationId} not found`);
      if (org.role === 'OPERATOR') throw new InvalidStateError('the operator organization has no wallet to fund');
      await this.ledger.transfer(manager, {
        idempotencyKey: depositKey(reference),
        kind: 'deposit',
        memo: `deposit ${reference}`,
        metadata: { organizationId, reference },
        effectiveAt: this.clock.now(),
        debitAccountId: this.platform.id('bank'),
        creditAccountId: org.walletAccountId,
        amount,
      });
    });
    return this.walletOf(organizationId);
  }
}

/**
 * The ledger idempotency key of a deposit reference. The ledger takes keys of at most 200
 * characters; a reference too long for "deposit:<reference>" is keyed by its SHA-256 (a prefix
 * no plain key can have, so the two forms never collide).
 */
function depositKey(reference: string): string {
  const plain = `deposit:${reference}`;
  return plain.length <= 200 ? plain : `deposit-sha256:${createHash('sha256').update(reference, 'utf8').digest('hex')}`;
}
