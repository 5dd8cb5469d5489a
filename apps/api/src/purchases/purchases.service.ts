import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { BadInputError, Decimal, DomainError, ErrorCode, NotFoundError } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { newId } from '../common/ids.js';
import { chargingWallet } from '../common/refusals.js';
import { requestHash } from '../common/request-hash.js';
import { CreditsService, type CreditBlock } from '../credits/index.js';
import { DeliveryService } from '../credits/index.js';
import { MarketService } from '../listings/index.js';
import { OrganizationsService } from '../organizations/index.js';
import { standardUnitPrice, totalPrice } from '../pricing/index.js';
import type { PurchaseCommand } from './domain/purchase-command.js';
import { PurchaseEntity } from './purchase.entity.js';

export type { PurchaseCommand } from './domain/purchase-command.js';

/** Standard purchases (SPEC §5, §6): priced now, paid at once, delivered at once, never expire. */
@Injectable()
export class PurchasesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly clock: ClockService,
    private readonly market: MarketService,
    private readonly credits: CreditsService,
    private readonly delivery: DeliveryService,
    private readonly organizations: OrganizationsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * One database transaction: under the market lock, replay or price, allocate cheapest first,
   * create the block, and post one ledger transaction that moves the money (buyer → sellers at
   * wholesale, margin → platform) and the credits (listings → block).
   */
  async purchase(cmd: PurchaseCommand): Promise<{ purchase: PurchaseEntity; block: CreditBlock }> {
    const { credits, maxUnitPrice, idempotencyKey: key } = cmd;
    const hash = requestHash({ credits: credits.toFixed(6), maxUnitPrice: maxUnitPrice?.toFixed(6) ?? null });

    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarketInTransaction(manager);
      const existing = await manager.findOneBy(PurchaseEntity, { buyerId: cmd.buyerId, idempotencyKey: key });
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotencyKey ${key} was used for a different purchase`);
        }
        return { purchase: existing, block: await this.credits.getBlockInTransaction(manager, existing.blockId) };
      }
      return this.execute(manager, cmd.buyerId, credits, maxUnitPrice, key, hash);
    });
  }

  async forBuyer(buyerId: string, id: string): Promise<PurchaseEntity> {
    const found = await this.dataSource.manager.findOneBy(PurchaseEntity, { id, buyerId });
    if (!found) throw new NotFoundError(`purchase ${id} not found`);
    return found;
  }

  private async execute(manager: EntityManager, buyerId: string, credits: Decimal, maxUnitPrice: Decimal | null, key: string, hash: string) {
    const now = this.clock.now();
    const buyerWallet = await this.walletOf(manager, buyerId);
    const snapshot = await this.market.snapshotInTransaction(manager, now);
    const found = await this.market.fillInTransaction(manager, credits, now);
    if (!found) throw await this.market.insufficientInTransaction(manager, credits, now);
    const unitPrice = standardUnitPrice(found.fill, snapshot.utilization, now, this.config.rules.pricing);
    if (maxUnitPrice && unitPrice.gt(maxUnitPrice)) {
      throw new DomainError(ErrorCode.PRICE_LIMIT_EXCEEDED, `the unit price is ${unitPrice.toFixed(6)}, above maxUnitPrice ${maxUnitPrice.toFixed(6)}`);
    }
    const total = totalPrice(credits, unitPrice);
    if (!total.gt(0)) throw new BadInputError('the order is too small to cost a cent', { field: 'credits' });

    const purchaseId = newId();
    const charge = { walletAccountId: buyerWallet, amount: total, what: 'this purchase costs' };
    const { block, ledgerTransactionId } = await chargingWallet(this.ledger, manager, charge, () =>
      this.delivery.deliverInTransaction(manager, {
        payerAccountId: buyerWallet,
        charge: total,
        block: { organizationId: buyerId, type: 'STANDARD', unitPrice, expiresAt: null, purchaseId },
        from: { kind: 'MARKET', found, purpose: 'PURCHASE', purposeId: purchaseId },
        at: now,
        ledger: { idempotencyKey: `purchase:${purchaseId}`, kind: 'purchase.standard', metadata: (blockId) => ({ purchaseId, buyerId, blockId }) },
      }),
    );
    const purchase = manager.create(PurchaseEntity, {
      id: purchaseId,
      buyerId,
      idempotencyKey: key,
      requestHash: hash,
      credits,
      unitPrice,
      totalPrice: total,
      wholesaleCost: found.fill.wholesaleCost,
      blockId: block.id,
      ledgerTransactionId,
      createdAt: now,
    });
    await manager.insert(PurchaseEntity, purchase);
    return { purchase, block };
  }

  /** The wallet ledger account of an organization, read through its owner in this transaction. */
  private async walletOf(manager: EntityManager, organizationId: string): Promise<string> {
    const [organization] = await this.organizations.findManyInTransaction(manager, [organizationId]);
    if (!organization) throw new Error(`organization ${organizationId} does not exist`);
    return organization.walletAccountId;
  }
}
