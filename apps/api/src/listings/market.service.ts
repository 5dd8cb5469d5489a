import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode } from '@ccx/core';
import { cheapestFill, monthlyFill, utilization, type Fill } from './domain/fill.js';
import { AllocationEntity, type AllocationPurpose } from './allocation.entity.js';
import { ListingEntity } from './listing.entity.js';

export interface MarketSnapshot {
  totalCredits: Decimal;
  allocatedCredits: Decimal;
  utilization: Decimal;
}

export interface AllocatedPart {
  listing: ListingEntity;
  allocation: AllocationEntity;
  credits: Decimal;
}

/** Key of the advisory lock that serializes every change of allocated capacity. */
const ALLOCATION_LOCK = 'ccx:allocation';

/**
 * The matching engine: reads open capacity, prices it and allocates it cheapest first.
 *
 * Every path that changes a listing's allocated or withdrawn credits holds one transaction-level
 * advisory lock (`lockMarket`), like an exchange's single matching thread: fills are
 * deterministic, the utilization a price uses is the one "before the order", and no two
 * allocations can take the same capacity. The listing's ledger account (which cannot go
 * negative) is the second, independent guard.
 */
@Injectable()
export class MarketService {
  async lockMarket(manager: EntityManager): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [ALLOCATION_LOCK]);
  }

  /**
   * Open listings with capacity at `now`, cheapest first (ties: earlier createdAt, then creation
   * order). Only listings whose window `[availableFrom, availableUntil)` holds `now`: capacity is
   * never sold before its window opens nor after it closes (SPEC §4, §6).
   */
  openListings(manager: EntityManager, now: Date): Promise<ListingEntity[]> {
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
  async snapshot(manager: EntityManager, now: Date): Promise<MarketSnapshot> {
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
  async fill(manager: EntityManager, credits: Decimal, now: Date): Promise<{ fill: Fill; listings: Map<string, ListingEntity> } | null> {
    const open = await this.openListings(manager, now);
    const fill = cheapestFill(
      open.map((l) => ({ listingId: l.id, available: l.totalCredits.minus(l.allocatedCredits).minus(l.withdrawnCredits), costPerCredit: l.wholesaleCostPerCredit })),
      credits,
    );
    return fill ? { fill, listings: new Map(open.map((l) => [l.id, l])) } : null;
  }

  /**
   * A reservation's fill (SPEC §6): month k's credits from the listings whose window covers
   * `deliveries[k]`, cheapest first; null when some month cannot be covered. Listings that open
   * later are candidates for the later months only.
   */
  async reservationFill(
    manager: EntityManager,
    creditsPerMonth: Decimal,
    deliveries: Date[],
    now: Date,
  ): Promise<{ fill: Fill; listings: Map<string, ListingEntity> } | null> {
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
  async allocate(
    manager: EntityManager,
    fill: Fill,
    listings: Map<string, ListingEntity>,
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
      parts.push({ listing, allocation, credits: part.credits });
    }
    return parts;
  }

  /** INSUFFICIENT_CAPACITY with what the market could supply. */
  async insufficient(manager: EntityManager, credits: Decimal, now: Date): Promise<DomainError> {
    const open = await this.openListings(manager, now);
    const available = open.reduce((sum, l) => sum.plus(l.totalCredits.minus(l.allocatedCredits).minus(l.withdrawnCredits)), new Decimal(0));
    return new DomainError(
      ErrorCode.INSUFFICIENT_CAPACITY,
      `the market has ${available.toFixed()} credits open; ${credits.toFixed()} were asked for`,
    );
  }
}
