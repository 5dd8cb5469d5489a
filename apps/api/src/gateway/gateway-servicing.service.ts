import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Decimal } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { ListingsService } from '../listings/index.js';
import { OrganizationsService } from '../organizations/index.js';
import { CircuitStore } from './circuit-store.js';
import { IdempotencyStore } from './idempotency-store.js';

/**
 * The gateway's part of a servicing run: pays sellers what their listings earned beyond their
 * allocation (whole cents, the sub-cent remainder carried forward, SPEC §12), ends requests left
 * RUNNING by a process that died (their holds expire on their own), and prunes old breaker
 * seconds and idempotency answers. Idempotent: a second run for the same instant pays nothing.
 */
@Injectable()
export class GatewayServicingService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly circuits: CircuitStore,
    private readonly idempotency: IdempotencyStore,
    private readonly listings: ListingsService,
    private readonly organizations: OrganizationsService,
  ) {}

  async run(now: Date, holdMinutes: number): Promise<{ overflowPayouts: number }> {
    const overflowPayouts = await this.payOverflow(now);
    await this.dataSource.query(
      `UPDATE inference_requests SET status = 'FAILED', error_code = 'abandoned', finished_at = $1
        WHERE status = 'RUNNING' AND created_at < $1::timestamptz - make_interval(mins => $2)`,
      [now, holdMinutes],
    );
    await this.circuits.prune(new Date());
    await this.idempotency.prune(new Date());
    return { overflowPayouts };
  }

  private async payOverflow(now: Date): Promise<number> {
    const due: { listing_id: string }[] = await this.dataSource.query(
      `SELECT listing_id FROM listing_service WHERE overflow_accrued - overflow_paid >= 0.01 ORDER BY listing_id`,
    );
    let paid = 0;
    for (const { listing_id } of due) {
      // The seller's wallet through its owners (a listing's seller never changes), read before the
      // payout's transaction so that it holds one connection only.
      const wallet = (await this.organizations.get((await this.listings.get(listing_id)).sellerId)).walletAccountId;
      await withTransaction(this.dataSource, async (manager) => {
        const [row] = await manager.query(
          `SELECT overflow_accrued::text AS accrued, overflow_paid::text AS paid FROM listing_service WHERE listing_id = $1 FOR UPDATE`,
          [listing_id],
        );
        const owed = new Decimal(row.accrued).minus(row.paid);
        const cents = owed.decimalPlaces(2, Decimal.ROUND_DOWN);
        if (cents.lt('0.01')) return;
        const paidTotal = new Decimal(row.paid).plus(cents);
        // The key names the running total: the same payout is never posted twice.
        await this.ledger.post(manager, {
          idempotencyKey: `gateway-overflow:${listing_id}:${paidTotal.toFixed(2)}`,
          kind: 'gateway.overflow',
          metadata: { listingId: listing_id },
          effectiveAt: now,
          postings: [
            { accountId: this.platform.id('treasury'), direction: 'DEBIT', amount: cents },
            { accountId: wallet, direction: 'CREDIT', amount: cents },
          ],
        });
        await manager.query(`UPDATE listing_service SET overflow_paid = $2 WHERE listing_id = $1`, [listing_id, paidTotal.toFixed(2)]);
        paid += 1;
      });
    }
    return paid;
  }
}
