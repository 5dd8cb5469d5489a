import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Ledger, type Account, type SqlRunner } from '@ccx/ledger';

/** The platform's own ledger accounts. None has a limit, so all are sharded (no hot row). */
const PLATFORM_ACCOUNTS = {
  /** Money entering from outside (bank or card deposits): goes negative as wallets fill. */
  bank: { code: 'platform:bank:USD', asset: 'USD' },
  /** The platform's margin on sales, fees and early-termination fees. */
  revenue: { code: 'platform:revenue:USD', asset: 'USD' },
  /** Pays recoveries (buy-back of frozen credits). */
  treasury: { code: 'platform:treasury:USD', asset: 'USD' },
  /** Payouts requested by sellers and lenders, out of their wallets until the operator marks them paid (→ bank) or rejects them (→ back to the wallet). */
  pendingPayouts: { code: 'platform:pending-payouts:USD', asset: 'USD' },
  /** Source of listed capacity: goes negative as sellers list credits. */
  issuance: { code: 'platform:issuance:CREDIT', asset: 'CREDIT' },
  /** Capacity taken off the market by a withdrawal or an expiry. */
  withdrawn: { code: 'platform:withdrawn:CREDIT', asset: 'CREDIT' },
  /** Credits that expired unused in a block. */
  expired: { code: 'platform:expired:CREDIT', asset: 'CREDIT' },
  /** Credits spent on usage. */
  consumed: { code: 'platform:consumed:CREDIT', asset: 'CREDIT' },
  /** Credits bought back in recoveries. */
  inventory: { code: 'platform:inventory:CREDIT', asset: 'CREDIT' },
} as const;

export type PlatformAccountName = keyof typeof PLATFORM_ACCOUNTS;
const SHARDS = 8;

/** Creates the platform accounts at start (idempotent) and hands out their ids. */
@Injectable()
export class PlatformAccounts implements OnModuleInit {
  private readonly ids = new Map<PlatformAccountName, string>();

  constructor(
    private readonly ledger: Ledger,
    private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    for (const [name, def] of Object.entries(PLATFORM_ACCOUNTS) as [PlatformAccountName, { code: string; asset: string }][]) {
      const account = await this.ledger.createAccount(this.dataSource.manager, {
        code: def.code,
        asset: def.asset,
        ownerRef: 'platform',
        allowNegative: true,
        allowPositive: true,
        shards: SHARDS,
      });
      this.ids.set(name, account.id);
    }
  }

  id(name: PlatformAccountName): string {
    const id = this.ids.get(name);
    if (!id) throw new Error(`platform account ${name} not initialised`);
    return id;
  }

  /** A limited account owned by an organization or a domain object. */
  createLimited(runner: SqlRunner, code: string, asset: 'USD' | 'CREDIT', ownerRef: string): Promise<Account> {
    return this.ledger.createAccount(runner, { code, asset, ownerRef, allowNegative: false, allowPositive: true });
  }
}
