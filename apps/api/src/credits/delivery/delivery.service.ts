import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Decimal } from '@ccx/core';
import { Ledger, type Posting } from '@ccx/ledger';
import { PlatformAccounts } from '../../ledger/platform-accounts.js';
import { MarketService, type AllocatedPart, type MarketFill } from '../../listings/index.js';
import type { CreditBlockEntity } from '../credit-block.entity.js';
import { CreditsService, type NewBlock } from '../credits.service.js';
import { deliveryPostings } from '../domain/delivery-postings.js';
import { SellerWallets } from './seller-wallets.js';

/**
 * Where delivered credits come from: a fill allocated now (a purchase, a facility), or what a
 * reservation allocated at its start for month `month` (its credits wait in the reservation's
 * ledger account, `heldIn`).
 */
export type DeliverySource =
  | { kind: 'MARKET'; found: MarketFill; purpose: 'PURCHASE' | 'FACILITY'; purposeId: string }
  | { kind: 'RESERVATION'; reservationId: string; month: number; credits: Decimal; heldIn: string };

export interface DeliveryInput {
  /** The wallet charged for the credits: the buyer's, or the lender's for a facility. */
  payerAccountId: string;
  /** What the payer is charged for them (cents). */
  charge: Decimal;
  /** The block the credits go into; it is granted what the source delivers. */
  block: Omit<NewBlock, 'granted' | 'createdAt'>;
  from: DeliverySource;
  /** The delivery instant: the block's creation and the ledger transaction's effective time. */
  at: Date;
  ledger: {
    idempotencyKey: string;
    kind: string;
    metadata: (blockId: string) => Record<string, unknown>;
    /** Postings of the same use case that belong in the same ledger transaction (a facility's fee and debt). */
    extraPostings?: Posting[];
  };
}

export interface Delivered {
  block: CreditBlockEntity;
  ledgerTransactionId: string;
}

/**
 * The one delivery use case (SPEC §4, §6, §7), for purchases, reservations and facilities alike:
 * allocate (or take the reservation's allocation), create the block, post one ledger transaction
 * that charges the payer, pays each seller wholesale, keeps the margin and moves the credits into
 * the block, and mark the allocations delivered. Runs in the caller's transaction, under the
 * market lock the caller holds; a wallet that cannot pay fails the ledger post (LIMIT_EXCEEDED),
 * which the caller turns into its own refusal.
 */
@Injectable()
export class DeliveryService {
  constructor(
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly market: MarketService,
    private readonly credits: CreditsService,
    private readonly sellerWallets: SellerWallets,
  ) {}

  async deliverInTransaction(manager: EntityManager, input: DeliveryInput): Promise<Delivered> {
    const { from, at } = input;
    const granted = from.kind === 'MARKET' ? from.found.fill.credits : from.credits;
    const block = await this.credits.createBlockInTransaction(manager, { ...input.block, granted, createdAt: at });
    const parts: AllocatedPart[] =
      from.kind === 'MARKET'
        ? await this.market.allocateInTransaction(manager, from.found, from.purpose, from.purposeId, at)
        : await this.market.undeliveredInTransaction(manager, 'RESERVATION', from.reservationId, from.month, from.credits);
    const wallets = await this.sellerWallets.ofInTransaction(manager, parts.map((p) => p.sellerId));
    const tx = await this.ledger.post(manager, {
      idempotencyKey: input.ledger.idempotencyKey,
      kind: input.ledger.kind,
      metadata: input.ledger.metadata(block.id),
      effectiveAt: at,
      postings: [
        ...deliveryPostings({
          payerAccountId: input.payerAccountId,
          charge: input.charge,
          revenueAccountId: this.platform.id('revenue'),
          blockAccountId: block.ledgerAccountId,
          parts: parts.map((p) => ({
            // A reservation's credits left their listings when it was made.
            sourceAccountId: from.kind === 'MARKET' ? p.listingAccountId : from.heldIn,
            credits: p.credits,
            costPerCredit: p.costPerCredit,
            sellerWalletId: wallets.get(p.sellerId)!,
          })),
        }),
        ...(input.ledger.extraPostings ?? []),
      ],
    });
    await this.market.markDeliveredInTransaction(manager, parts);
    return { block, ledgerTransactionId: tx.id };
  }
}
