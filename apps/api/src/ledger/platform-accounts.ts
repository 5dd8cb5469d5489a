import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Ledger, type Account, type SqlRunner } from '@ccx/ledger';
import { PLATFORM_ACCOUNTS, type PlatformAccountName } from './chart-of-accounts.js';

export type { PlatformAccountName };

/**
 * No platform account has a limit, so all are sharded: concurrent writers spread over rows. Every
 * usage charge posts to `platform:consumed` and holds the row it picked until its commit; with 8
 * rows, charges of different buyers met there often enough to wait on each other (the soak's
 * lock waits, docs/BENCHMARKS.md). A database made with fewer grows to this at start
 * (`Ledger.growShards`).
 */
export const PLATFORM_SHARDS = 64;

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
      await this.ledger.growShards(this.dataSource.manager, def.code, PLATFORM_SHARDS);
      const account = await this.ledger.createAccount(this.dataSource.manager, {
        code: def.code,
        asset: def.asset,
        ownerRef: 'platform',
        allowNegative: true,
        allowPositive: true,
        shards: PLATFORM_SHARDS,
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
