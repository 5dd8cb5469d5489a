import { Injectable } from '@nestjs/common';
import DataLoader from 'dataloader';
import { DataSource } from 'typeorm';
import { formatAmount } from '@ccx/core';
import { ClockService } from '../clock/clock.service.js';
import type { BorrowerProfileModel } from './models/financing-request.model.js';

const KEY = Symbol('ccx:borrower-profile-loader');
const DAY_MS = 86_400_000;
export const USAGE_WINDOW_DAYS = 90;

/**
 * The borrower profile of SPEC §13, from CCX's own records: a read model over the organization,
 * its credit blocks, usage events and facilities — aggregates only, one query for every borrower
 * on a page, never a row of theirs. Kept here, read-only, so that the financing-requests module
 * need not depend on the modules that own those tables (facilities already depends on it).
 */
@Injectable()
export class BorrowerProfiles {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
  ) {}

  load(request: object, borrowerId: string): Promise<BorrowerProfileModel> {
    const holder = request as { [KEY]?: DataLoader<string, BorrowerProfileModel> };
    holder[KEY] ??= new DataLoader<string, BorrowerProfileModel>(async (ids) => {
      const found = await this.profiles([...ids]);
      return ids.map((id) => found.get(id) ?? new Error(`borrower ${id} not found`));
    });
    return holder[KEY]!.load(borrowerId);
  }

  async profiles(borrowerIds: string[]): Promise<Map<string, BorrowerProfileModel>> {
    const now = this.clock.now();
    const since = new Date(now.getTime() - USAGE_WINDOW_DAYS * DAY_MS);
    const rows: { id: string; created_at: Date; purchased: string; used: string; repaid: number; defaulted: number }[] = await this.dataSource.query(
      `SELECT o.id, o.created_at,
              (SELECT coalesce(sum(b.granted), 0) FROM credit_blocks b
                WHERE b.organization_id = o.id AND b.type IN ('STANDARD', 'RESERVED'))::text AS purchased,
              (SELECT coalesce(sum(u.credits), 0) FROM usage_events u
                WHERE u.organization_id = o.id AND u.occurred_at > $2 AND u.occurred_at <= $3)::text AS used,
              (SELECT count(*) FROM facilities f WHERE f.borrower_id = o.id AND f.status = 'REPAID' AND f.defaulted_at IS NULL)::int AS repaid,
              (SELECT count(*) FROM facilities f WHERE f.borrower_id = o.id AND f.defaulted_at IS NOT NULL)::int AS defaulted
         FROM organizations o WHERE o.id = ANY($1::uuid[])`,
      [borrowerIds, since, now],
    );
    return new Map(
      rows.map((r) => [
        r.id,
        {
          memberSince: new Date(r.created_at),
          creditsPurchased: formatAmount(r.purchased, 6),
          creditsUsedLast90Days: formatAmount(r.used, 6),
          facilitiesRepaid: r.repaid,
          facilitiesDefaulted: r.defaulted,
        },
      ]),
    );
  }
}
