import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OrganizationEntity } from '../../organizations/organization.entity.js';

/** Seller organization id → wallet ledger account id, for paying sellers on delivery. */
@Injectable()
export class SellerWallets {
  async of(manager: EntityManager, sellerIds: string[]): Promise<Map<string, string>> {
    const ids = [...new Set(sellerIds)];
    if (!ids.length) return new Map();
    const orgs = await manager.getRepository(OrganizationEntity).createQueryBuilder('o').where('o.id IN (:...ids)', { ids }).getMany();
    return new Map(orgs.map((o) => [o.id, o.walletAccountId]));
  }
}
