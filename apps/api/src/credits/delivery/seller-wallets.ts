import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OrganizationsService } from '../../organizations/index.js';

/** Seller organization id → wallet ledger account id, for paying sellers on delivery. */
@Injectable()
export class SellerWallets {
  constructor(private readonly organizations: OrganizationsService) {}

  async ofInTransaction(manager: EntityManager, sellerIds: string[]): Promise<Map<string, string>> {
    const ids = [...new Set(sellerIds)];
    if (!ids.length) return new Map();
    const orgs = await this.organizations.findManyInTransaction(manager, ids);
    return new Map(orgs.map((o) => [o.id, o.walletAccountId]));
  }
}
