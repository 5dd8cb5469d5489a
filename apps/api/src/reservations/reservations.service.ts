import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode, InvalidStateError, NotFoundError } from '@ccx/core';
import { Ledger, LedgerError, withTransaction } from '@ccx/ledger';
import { addMonthsClamped } from '@ccx/finance';
import { ClockService } from '../clock/clock.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { creditsInput, intInput, textInput } from '../common/amounts.js';
import { newId, parseId } from '../common/ids.js';
import { chargingWallet } from '../common/refusals.js';
import { requestHash } from '../common/request-hash.js';
import { CreditsService } from '../credits/credits.service.js';
import { deliveryPostings } from '../credits/domain/delivery-postings.js';
import { AllocationEntity } from '../listings/allocation.entity.js';
import { ListingEntity } from '../listings/listing.entity.js';
import { MarketService } from '../listings/market.service.js';
import { OrganizationEntity } from '../organizations/organization.entity.js';
import { monthlyDeliveries, reservedUnitPrice, standardUnitPrice, termDiscount, totalPrice } from '../pricing/domain/pricing.js';
import { SellerWallets } from '../purchases/seller-wallets.js';
import { earlyTerminationFee } from './domain/early-termination-fee.js';
import { ReservationEntity } from './reservation.entity.js';

export interface ReserveCommand {
  buyerId: string;
  creditsPerMonth: unknown;
  termMonths: unknown;
  idempotencyKey: unknown;
}

/**
 * Reserved credits (SPEC §6): the whole commitment is allocated at reservation time (credits move
 * from the listings into the reservation's ledger account); one monthly block is delivered and
 * charged then and on each monthly anniversary; cancelling charges the early termination fee and
 * gives the undelivered capacity back to its listings.
 */
@Injectable()
export class ReservationsService {
  private readonly logger = new Logger('Reservations');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly market: MarketService,
    private readonly credits: CreditsService,
    private readonly sellerWallets: SellerWallets,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async reserve(cmd: ReserveCommand): Promise<ReservationEntity> {
    const rules = this.config.rules;
    const creditsPerMonth = creditsInput(cmd.creditsPerMonth, 'creditsPerMonth');
    const termMonths = intInput(cmd.termMonths, 'termMonths', 1, rules.reservations.maxTermMonths);
    const key = textInput(cmd.idempotencyKey, 'idempotencyKey', 200);
    const hash = requestHash({ creditsPerMonth: creditsPerMonth.toFixed(6), termMonths });
    const commitment = creditsPerMonth.times(termMonths);

    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarket(manager);
      const existing = await manager.findOneBy(ReservationEntity, { buyerId: cmd.buyerId, idempotencyKey: key });
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotencyKey ${key} was used for a different reservation`);
        }
        return existing;
      }
      const now = this.clock.now();
      const snapshot = await this.market.snapshot(manager, now);
      // Each month from the listings open at its delivery (SPEC §6): a listing never sells
      // capacity outside its window, so a reservation cannot outlive the listings it draws on.
      const deliveries = monthlyDeliveries(now, termMonths);
      const found = await this.market.reservationFill(manager, creditsPerMonth, deliveries, now);
      if (!found) throw this.market.insufficientForReservation(creditsPerMonth, deliveries);
      const discountRate = termDiscount(termMonths, rules.pricing);
      const unitPrice = reservedUnitPrice(standardUnitPrice(found.fill, snapshot.utilization, now, rules.pricing), discountRate);
      if (!totalPrice(creditsPerMonth, unitPrice).gt(0)) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'a monthly delivery would cost less than a cent', { field: 'creditsPerMonth' });
      }

      const id = newId();
      const account = await this.platform.createLimited(manager, `reservation:${id}:CREDIT`, 'CREDIT', cmd.buyerId);
      const reservation = manager.create(ReservationEntity, {
        id,
        buyerId: cmd.buyerId,
        idempotencyKey: key,
        requestHash: hash,
        creditsPerMonth,
        termMonths,
        unitPrice,
        discountRate,
        monthsDelivered: 0,
        status: 'ACTIVE',
        anchorAt: now,
        nextDeliveryAt: now,
        earlyTerminationFee: null,
        ledgerAccountId: account.id,
        createdAt: now,
        cancelledAt: null,
      });
      await manager.insert(ReservationEntity, reservation);
      const parts = await this.market.allocate(manager, found.fill, found.listings, 'RESERVATION', id, now);
      await this.ledger.post(manager, {
        idempotencyKey: `reservation:${id}:allocate`,
        kind: 'reservation.allocate',
        metadata: { reservationId: id, buyerId: cmd.buyerId },
        effectiveAt: now,
        postings: [
          ...perListing(parts).map(([accountId, amount]) => ({ accountId, direction: 'DEBIT' as const, amount })),
          { accountId: account.id, direction: 'CREDIT', amount: commitment },
        ],
      });
      // The first month is delivered and charged now; a wallet that cannot pay it refuses the
      // whole reservation (INSUFFICIENT_FUNDS) rather than opening one already past due.
      const buyer = await manager.findOneByOrFail(OrganizationEntity, { id: cmd.buyerId });
      const firstMonth = { walletAccountId: buyer.walletAccountId, amount: totalPrice(creditsPerMonth, unitPrice), what: "this reservation's first month costs" };
      await chargingWallet(this.ledger, manager, firstMonth, () => this.deliverNext(manager, reservation, now));
      return reservation;
    });
  }

  async cancel(buyerId: string, id: string): Promise<ReservationEntity> {
    const reservationId = parseId(id, 'reservation');
    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarket(manager);
      const reservation = await manager.findOne(ReservationEntity, { where: { id: reservationId }, lock: { mode: 'pessimistic_write' } });
      if (!reservation || reservation.buyerId !== buyerId) throw new NotFoundError(`reservation ${id} not found`);
      if (reservation.status !== 'ACTIVE' && reservation.status !== 'PAST_DUE') {
        throw new InvalidStateError(`a ${reservation.status} reservation cannot be cancelled`);
      }
      const now = this.clock.now();
      const undelivered = reservation.termMonths - reservation.monthsDelivered;
      const fee = this.earlyTerminationFee(reservation);
      const buyer = await manager.findOneByOrFail(OrganizationEntity, { id: buyerId });
      const releases = await this.release(manager, reservation, now);
      const charge = { walletAccountId: buyer.walletAccountId, amount: fee, what: 'the early termination fee is' };
      await chargingWallet(this.ledger, manager, charge, () => this.ledger.post(manager, {
        idempotencyKey: `reservation:${reservation.id}:cancel`,
        kind: 'reservation.cancel',
        metadata: { reservationId: reservation.id, buyerId, undeliveredMonths: undelivered },
        effectiveAt: now,
        postings: [
          ...(fee.gt(0)
            ? [
                { accountId: buyer.walletAccountId, direction: 'DEBIT' as const, amount: fee },
                { accountId: this.platform.id('revenue'), direction: 'CREDIT' as const, amount: fee },
              ]
            : []),
          ...releases,
        ],
      }));
      Object.assign(reservation, { status: 'CANCELLED', earlyTerminationFee: fee, nextDeliveryAt: null, cancelledAt: now });
      await manager.update(ReservationEntity, { id: reservation.id }, {
        status: 'CANCELLED',
        earlyTerminationFee: fee,
        nextDeliveryAt: null,
        cancelledAt: now,
      });
      return reservation;
    });
  }

  /** What cancelling `r` now charges, or charged (SPEC §6; domain/early-termination-fee.ts). */
  earlyTerminationFee(r: ReservationEntity): Decimal {
    return earlyTerminationFee(r, this.config.rules.reservations.earlyTerminationRate);
  }

  list(buyerId: string | null): Promise<ReservationEntity[]> {
    return this.dataSource.manager.find(ReservationEntity, {
      where: buyerId ? { buyerId } : {},
      order: { createdAt: 'ASC', id: 'ASC' },
    });
  }

  /**
   * Servicing: every delivery due at or before `now`, in order. A delivery due while the
   * reservation is current happens at its scheduled instant (as if servicing had run then); a
   * PAST_DUE one is retried at `now`. A wallet that cannot pay leaves the reservation PAST_DUE.
   */
  async deliverDue(now: Date): Promise<number> {
    const due: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM reservations WHERE status IN ('ACTIVE', 'PAST_DUE') AND next_delivery_at <= $1 ORDER BY next_delivery_at, id`,
      [now],
    );
    let delivered = 0;
    for (const { id } of due) {
      for (;;) {
        const outcome = await this.deliverOne(id, now);
        if (outcome === 'delivered') delivered++;
        else break;
      }
    }
    return delivered;
  }

  private async deliverOne(id: string, now: Date): Promise<'delivered' | 'done' | 'unpaid'> {
    try {
      return await withTransaction(this.dataSource, async (manager) => {
        const r = await manager.findOne(ReservationEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!r || (r.status !== 'ACTIVE' && r.status !== 'PAST_DUE') || !r.nextDeliveryAt || r.nextDeliveryAt > now) return 'done';
        // A month that fell due while the reservation was past due is delivered when it is paid
        // (now): never back-dated before the previous delivery, i.e. before the money arrived.
        const [{ last }] = await manager.query(`SELECT max(created_at) AS last FROM credit_blocks WHERE reservation_id = $1`, [r.id]);
        const late = r.status === 'PAST_DUE' || (last !== null && r.nextDeliveryAt < new Date(last));
        const at = late ? now : r.nextDeliveryAt;
        await this.deliverNext(manager, r, at);
        return 'delivered';
      });
    } catch (error) {
      if (!(error instanceof LedgerError && error.details.reason === 'LIMIT_EXCEEDED')) throw error;
      await this.dataSource.query(`UPDATE reservations SET status = 'PAST_DUE' WHERE id = $1 AND status = 'ACTIVE'`, [id]);
      return 'unpaid';
    }
  }

  /** Delivers month `monthsDelivered + 1` at `at`: a block of creditsPerMonth, charged and paid out. */
  private async deliverNext(manager: EntityManager, r: ReservationEntity, at: Date): Promise<void> {
    const month = r.monthsDelivered;
    const charge = totalPrice(r.creditsPerMonth, r.unitPrice);
    const buyer = await manager.findOneByOrFail(OrganizationEntity, { id: r.buyerId });
    const parts = await this.takeUndelivered(manager, r.id, month, r.creditsPerMonth);
    const wallets = await this.sellerWallets.of(manager, parts.map((p) => p.sellerId));
    const block = await this.credits.createBlock(manager, {
      organizationId: r.buyerId,
      type: 'RESERVED',
      granted: r.creditsPerMonth,
      unitPrice: r.unitPrice,
      expiresAt: addMonthsClamped(at, this.config.rules.reservations.blockExpiryMonths),
      createdAt: at,
      reservationId: r.id,
    });
    await this.ledger.post(manager, {
      idempotencyKey: `reservation:${r.id}:delivery:${month + 1}`,
      kind: 'reservation.delivery',
      metadata: { reservationId: r.id, month: month + 1, blockId: block.id },
      effectiveAt: at,
      postings: deliveryPostings({
        payerAccountId: buyer.walletAccountId,
        charge,
        revenueAccountId: this.platform.id('revenue'),
        blockAccountId: block.ledgerAccountId,
        parts: parts.map((p) => ({ sourceAccountId: r.ledgerAccountId, credits: p.credits, costPerCredit: p.cost, sellerWalletId: wallets.get(p.sellerId)! })),
      }),
    });
    for (const p of parts) {
      await manager.query(`UPDATE allocations SET delivered = delivered + $2 WHERE id = $1`, [p.allocationId, p.credits.toFixed()]);
    }
    r.monthsDelivered = month + 1;
    r.status = r.monthsDelivered === r.termMonths ? 'COMPLETED' : 'ACTIVE';
    r.nextDeliveryAt = r.monthsDelivered === r.termMonths ? null : addMonthsClamped(r.anchorAt, r.monthsDelivered);
    await manager.update(ReservationEntity, { id: r.id }, { monthsDelivered: r.monthsDelivered, status: r.status, nextDeliveryAt: r.nextDeliveryAt });
  }

  /**
   * Month `month`'s `credits` of a reservation's allocations (those allocated for that month from
   * listings open at its delivery), cheapest first (ties: allocation order). Allocations made
   * before months were recorded have none and are taken cheapest first, as they always were.
   */
  private async takeUndelivered(manager: EntityManager, reservationId: string, month: number, credits: Decimal) {
    const allocations = (
      await manager.find(AllocationEntity, {
        where: { purpose: 'RESERVATION', purposeId: reservationId },
        order: { wholesaleCostPerCredit: 'ASC', id: 'ASC' },
      })
    ).filter((a) => a.month === null || a.month === month);
    const listings = await this.listingsOf(manager, allocations);
    const parts: { allocationId: string; credits: Decimal; cost: Decimal; sellerId: string }[] = [];
    let remaining = credits;
    for (const a of allocations) {
      if (remaining.isZero()) break;
      const open = a.credits.minus(a.delivered).minus(a.released);
      if (!open.gt(0)) continue;
      const take = Decimal.min(open, remaining);
      parts.push({ allocationId: a.id, credits: take, cost: a.wholesaleCostPerCredit, sellerId: listings.get(a.listingId)!.sellerId });
      remaining = remaining.minus(take);
    }
    if (!remaining.isZero()) throw new Error(`reservation ${reservationId} has fewer undelivered credits than a month`);
    return parts;
  }

  /**
   * Gives the undelivered capacity back: to its listing while the listing is still on the market,
   * otherwise out of the market (as a withdrawal or an expiry would have). A listing whose window
   * has closed is EXPIRED at once rather than reopened until the next servicing run sweeps it.
   * Returns the CREDIT postings.
   */
  private async release(manager: EntityManager, r: ReservationEntity, now: Date) {
    const allocations = await manager.find(AllocationEntity, { where: { purpose: 'RESERVATION', purposeId: r.id }, order: { id: 'ASC' } });
    const listings = await this.listingsOf(manager, allocations);
    const postings: { accountId: string; direction: 'DEBIT' | 'CREDIT'; amount: Decimal }[] = [];
    let total = new Decimal(0);
    for (const a of allocations) {
      const open = a.credits.minus(a.delivered).minus(a.released);
      if (!open.gt(0)) continue;
      const listing = listings.get(a.listingId)!;
      listing.allocatedCredits = listing.allocatedCredits.minus(open);
      const onMarket = listing.status === 'OPEN' || listing.status === 'SOLD_OUT';
      if (onMarket && listing.availableUntil > now) {
        listing.status = 'OPEN';
        postings.push({ accountId: listing.ledgerAccountId, direction: 'CREDIT', amount: open });
      } else {
        if (onMarket) listing.status = 'EXPIRED';
        listing.withdrawnCredits = listing.withdrawnCredits.plus(open);
        postings.push({ accountId: this.platform.id('withdrawn'), direction: 'CREDIT', amount: open });
      }
      await manager.update(ListingEntity, { id: listing.id }, {
        allocatedCredits: listing.allocatedCredits,
        withdrawnCredits: listing.withdrawnCredits,
        status: listing.status,
      });
      await manager.update(AllocationEntity, { id: a.id }, { released: a.released.plus(open) });
      total = total.plus(open);
    }
    if (total.gt(0)) postings.push({ accountId: r.ledgerAccountId, direction: 'DEBIT', amount: total });
    return postings;
  }

  private async listingsOf(manager: EntityManager, allocations: AllocationEntity[]): Promise<Map<string, ListingEntity>> {
    const ids = [...new Set(allocations.map((a) => a.listingId))];
    if (!ids.length) return new Map();
    const listings = await manager.getRepository(ListingEntity).createQueryBuilder('l').where('l.id IN (:...ids)', { ids }).getMany();
    return new Map(listings.map((l) => [l.id, l]));
  }
}

/** Credits taken from each listing's account (a listing may back several months). */
function perListing(parts: { listing: ListingEntity; credits: Decimal }[]): [string, Decimal][] {
  const sums = new Map<string, Decimal>();
  for (const p of parts) sums.set(p.listing.ledgerAccountId, (sums.get(p.listing.ledgerAccountId) ?? new Decimal(0)).plus(p.credits));
  return [...sums];
}
