import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode } from '@ccx/core';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { cheapestFill, cheapestFillForAmount, monthlyFill, utilization, type Capacity, type Fill } from './domain/fill.js';
import { AllocationEntity } from './allocation.entity.js';
import type { AllocationPurpose } from './domain/allocation-purpose.js';
import { ListingEntity } from './listing.entity.js';

export interface MarketSnapshot {
  totalCredits: Decimal;
  allocatedCredits: Decimal;
  utilization: Decimal;
}

/** A fill and the listings it draws on, as `allocateInTransaction` takes it back. */
export interface MarketFill {
  fill: Fill;
  listings: Map<string, ListingEntity>;
}

/**
 * Credits of one allocation, with what a delivery needs to pay the seller for them. Plain data:
 * other modules never see a listing or an allocation row.
 */
export interface AllocatedPart {
  allocationId: string;
  listingId: string;
  sellerId: string;
  /** The listing's ledger account, which held the credits until they were allocated. */
  listingAccountId: string;
  credits: Decimal;
  costPerCredit: Decimal;
}

/** A ledger posting that a release asks its caller to make (the caller posts the DEBIT side). */
export interface ReleasePosting {
  accountId: string;
  direction: 'CREDIT';
  amount: Decimal;
}

/** Key of the advisory lock that serializes every change of allocated capacity. */
const ALLOCATION_LOCK = 'ccx:allocation';

/**
 * The matching engine: reads open capacity, prices it and allocates it cheapest first.
 *
 * Every path that changes a listing's allocated or withdrawn credits holds one transaction-level
 * advisory lock (`lockMarketInTransaction`), like an exchange's single matching thread: fills are
 * deterministic, the utilization a price uses is the one "before the order", and no two
 * allocations can take the same capacity. The listing's ledger account (which cannot go
 * negative) is the second, independent guard.
 */
@Injectable()
export class MarketService {
  constructor(private readonly platform: PlatformAccounts) {}

  async lockMarketInTransaction(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [ALLOCATION_LOCK]);
  }

  /**
   * Open listings with capacity at `now`, cheapest first (ties: earlier createdAt, then creation
   * order). Only listings whose window `[availableFrom, availableUntil)` holds `now`: capacity is
   * never sold before its window opens nor after it closes (SPEC §4, §6).
   */
  private openListings(manager: EntityManager, now: Date): Promise<ListingEntity[]> {
    return manager
      .getRepository(ListingEntity)
      .createQueryBuilder('l')
      .where(`l.status = 'OPEN' AND l.available_from <= :now AND l.available_until > :now`, { now })
      .andWhere('l.total_credits - l.allocated_credits - l.withdrawn_credits > 0')
      .orderBy('l.wholesale_cost_per_credit', 'ASC')
      .addOrderBy('l.created_at', 'ASC')
      .addOrderBy('l.seq', 'ASC')
      .getMany();
  }

  /**
   * Utilization over OPEN and SOLD_OUT listings (SPEC §5), as of `now`: only listings whose window
   * holds `now`. A listing sold out in a window that has since closed is past, not current
   * demand; counting it would push u (and the price) up for ever as history accumulates. One whose
   * window has not opened is not on sale yet, so it is not supply either.
   */
  async snapshotInTransaction(manager: EntityManager, now: Date): Promise<MarketSnapshot> {
    const [row] = await manager.query(
      `SELECT coalesce(sum(total_credits), 0)::text AS total, coalesce(sum(allocated_credits), 0)::text AS allocated
       FROM listings WHERE status IN ('OPEN', 'SOLD_OUT') AND available_from <= $1 AND available_until > $1`,
      [now],
    );
    const total = new Decimal(row.total);
    const allocated = new Decimal(row.allocated);
    return { totalCredits: total, allocatedCredits: allocated, utilization: utilization(allocated, total) };
  }

  /** The cheapest fill of `credits` now, or null when the market cannot supply it. */
  async fillInTransaction(manager: EntityManager, credits: Decimal, now: Date): Promise<MarketFill | null> {
    const open = await this.openListings(manager, now);
    const fill = cheapestFill(open.map(capacityOf), credits);
    return fill ? { fill, listings: new Map(open.map((l) => [l.id, l])) } : null;
  }

  /**
   * What `amount` buys at wholesale now (financed credits, SPEC §7): the same open listings in the
   * same order as `fill`, so a facility and a purchase never see a different market.
   */
  async fillForAmountInTransaction(manager: EntityManager, amount: Decimal, now: Date): Promise<MarketFill | null> {
    const open = await this.openListings(manager, now);
    const fill = cheapestFillForAmount(open.map(capacityOf), amount);
    return fill ? { fill, listings: new Map(open.map((l) => [l.id, l])) } : null;
  }

  /**
   * A reservation's fill (SPEC §6): month k's credits from the listings whose window covers
   * `deliveries[k]`, cheapest first; null when some month cannot be covered. Listings that open
   * later are candidates for the later months only.
   */
  async reservationFillInTransaction(
    manager: EntityManager,
    creditsPerMonth: Decimal,
    deliveries: Date[],
    now: Date,
  ): Promise<MarketFill | null> {
    const last = deliveries[deliveries.length - 1];
    const candidates = await manager
      .getRepository(ListingEntity)
      .createQueryBuilder('l')
      .where(`l.status = 'OPEN' AND l.available_until > :now AND l.available_from <= :last`, { now, last })
      .andWhere('l.total_credits - l.allocated_credits - l.withdrawn_credits > 0')
      .orderBy('l.wholesale_cost_per_credit', 'ASC')
      .addOrderBy('l.created_at', 'ASC')
      .addOrderBy('l.seq', 'ASC')
      .getMany();
    const fill = monthlyFill(
      candidates.map((l) => ({
        listingId: l.id,
        available: l.totalCredits.minus(l.allocatedCredits).minus(l.withdrawnCredits),
        costPerCredit: l.wholesaleCostPerCredit,
        availableFrom: l.availableFrom,
        availableUntil: l.availableUntil,
      })),
      creditsPerMonth,
      deliveries,
    );
    return fill ? { fill, listings: new Map(candidates.map((l) => [l.id, l])) } : null;
  }

  /** INSUFFICIENT_CAPACITY for a reservation some month of which no open window can cover. */
  insufficientForReservation(creditsPerMonth: Decimal, deliveries: Date[]): DomainError {
    return new DomainError(
      ErrorCode.INSUFFICIENT_CAPACITY,
      `the market cannot supply ${creditsPerMonth.toFixed()} credits in each of ${deliveries.length} months from listings open at each month's delivery ` +
        `(${deliveries[0].toISOString()} to ${deliveries[deliveries.length - 1].toISOString()})`,
    );
  }

  /**
   * Records a fill as allocated to `purpose` (the caller holds the market lock and posts the
   * ledger movement of the credits out of the listings' accounts in the same transaction).
   */
  async allocateInTransaction(
    manager: EntityManager,
    { fill, listings }: MarketFill,
    purpose: AllocationPurpose,
    purposeId: string,
    now: Date,
  ): Promise<AllocatedPart[]> {
    const parts: AllocatedPart[] = [];
    for (const part of fill.parts) {
      const listing = listings.get(part.listingId)!;
      listing.allocatedCredits = listing.allocatedCredits.plus(part.credits);
      const soldOut = listing.totalCredits.minus(listing.allocatedCredits).minus(listing.withdrawnCredits).isZero();
      listing.status = soldOut ? 'SOLD_OUT' : 'OPEN';
      await manager.update(ListingEntity, { id: listing.id }, { allocatedCredits: listing.allocatedCredits, status: listing.status });
      const allocation = manager.create(AllocationEntity, {
        listingId: listing.id,
        purpose,
        purposeId,
        credits: part.credits,
        delivered: new Decimal(0),
        released: new Decimal(0),
        wholesaleCostPerCredit: part.costPerCredit,
        month: part.month ?? null,
        createdAt: now,
      });
      await manager.insert(AllocationEntity, allocation);
      parts.push({
        allocationId: allocation.id,
        listingId: listing.id,
        sellerId: listing.sellerId,
        listingAccountId: listing.ledgerAccountId,
        credits: part.credits,
        costPerCredit: part.costPerCredit,
      });
    }
    return parts;
  }

  /** Records credits of allocations as delivered (to a credit block, their sellers paid). */
  async markDeliveredInTransaction(manager: EntityManager, parts: { allocationId: string; credits: Decimal }[]): Promise<void> {
    for (const p of parts) {
      await manager.query(`UPDATE allocations SET delivered = delivered + $2 WHERE id = $1`, [p.allocationId, p.credits.toFixed()]);
    }
  }

  /**
   * Month `month`'s `credits` of what was allocated to `purposeId` (a reservation's allocations
   * for that month, from listings open at its delivery), cheapest first (ties: allocation order).
   * Allocations made before months were recorded have none and are taken cheapest first, as they
   * always were. Throws when fewer are left undelivered: the allocation covered every month.
   */
  async undeliveredInTransaction(
    manager: EntityManager,
    purpose: AllocationPurpose,
    purposeId: string,
    month: number,
    credits: Decimal,
  ): Promise<AllocatedPart[]> {
    const allocations = (
      await manager.find(AllocationEntity, { where: { purpose, purposeId }, order: { wholesaleCostPerCredit: 'ASC', id: 'ASC' } })
    ).filter((a) => a.month === null || a.month === month);
    const listings = await this.listingsOf(manager, allocations);
    const parts: AllocatedPart[] = [];
    let remaining = credits;
    for (const a of allocations) {
      if (remaining.isZero()) break;
      const open = a.credits.minus(a.delivered).minus(a.released);
      if (!open.gt(0)) continue;
      const take = Decimal.min(open, remaining);
      const listing = listings.get(a.listingId)!;
      parts.push({
        allocationId: a.id,
        listingId: a.listingId,
        sellerId: listing.sellerId,
        listingAccountId: listing.ledgerAccountId,
        credits: take,
        costPerCredit: a.wholesaleCostPerCredit,
      });
      remaining = remaining.minus(take);
    }
    if (!remaining.isZero()) throw new Error(`${purpose.toLowerCase()} ${purposeId} has fewer undelivered credits than a month`);
    return parts;
  }

  /**
   * Gives what was allocated to `purposeId` and not delivered back (a cancelled reservation): to
   * its listing while the listing is still on the market, otherwise out of the market (as a
   * withdrawal or an expiry would have). A listing whose window has closed is EXPIRED at once
   * rather than reopened until the next servicing run sweeps it. Returns the CREDIT postings the
   * caller makes, and their total (which the caller debits from where the credits were held).
   */
  async releaseInTransaction(
    manager: EntityManager,
    purpose: AllocationPurpose,
    purposeId: string,
    now: Date,
  ): Promise<{ postings: ReleasePosting[]; total: Decimal }> {
    const allocations = await manager.find(AllocationEntity, { where: { purpose, purposeId }, order: { id: 'ASC' } });
    const listings = await this.listingsOf(manager, allocations);
    const postings: ReleasePosting[] = [];
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
    return { postings, total };
  }

  private async listingsOf(manager: EntityManager, allocations: AllocationEntity[]): Promise<Map<string, ListingEntity>> {
    const ids = [...new Set(allocations.map((a) => a.listingId))];
    if (!ids.length) return new Map();
    const listings = await manager.getRepository(ListingEntity).createQueryBuilder('l').where('l.id IN (:...ids)', { ids }).getMany();
    return new Map(listings.map((l) => [l.id, l]));
  }

  /** INSUFFICIENT_CAPACITY with what the market could supply. */
  async insufficientInTransaction(manager: EntityManager, credits: Decimal, now: Date): Promise<DomainError> {
    const open = await this.openListings(manager, now);
    const available = open.reduce((sum, l) => sum.plus(l.totalCredits.minus(l.allocatedCredits).minus(l.withdrawnCredits)), new Decimal(0));
    return new DomainError(
      ErrorCode.INSUFFICIENT_CAPACITY,
      `the market has ${available.toFixed()} credits open; ${credits.toFixed()} were asked for`,
    );
  }
}

function capacityOf(l: ListingEntity): Capacity {
  return { listingId: l.id, available: l.totalCredits.minus(l.allocatedCredits).minus(l.withdrawnCredits), costPerCredit: l.wholesaleCostPerCredit };
}
