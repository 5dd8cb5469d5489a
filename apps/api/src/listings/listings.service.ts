import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { BadInputError, Decimal, DomainError, ErrorCode, InvalidStateError, NotFoundError, roundCreditsGranted, roundUnitPrice } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { listingAccountCode } from '../ledger/chart-of-accounts.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId, parseId } from '../common/ids.js';
import type { CreateListingCommand } from './domain/create-listing-command.js';
import type { ListingStatus } from './domain/listing-status.js';
import { availableCredits, effectiveStatus, ListingEntity } from './listing.entity.js';
import { MarketService } from './market.service.js';

export type { CreateListingCommand } from './domain/create-listing-command.js';

export interface ListingQuery {
  filter?: { gpuType?: string; region?: string; status?: ListingStatus };
  first?: number | null;
  after?: string | null;
}

const MAX_PAGE = 100;
const DEFAULT_PAGE = 20;

/** Supply (SPEC §4): sellers list capacity; the market allocates it; servicing expires it. */
@Injectable()
export class ListingsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly market: MarketService,
  ) {}

  async create(cmd: CreateListingCommand): Promise<ListingEntity> {
    const now = this.clock.now();
    const { gpu, region, gpuHours, wholesalePricePerGpuHour: price } = cmd;
    if (!(cmd.availableUntil.getTime() > now.getTime())) {
      throw new BadInputError('availableUntil must be in the future', { field: 'availableUntil' });
    }
    // Never list more credits than the hours are worth.
    const totalCredits = roundCreditsGranted(gpuHours.times(gpu.creditsPerGpuHour));
    if (!totalCredits.gt(0)) throw new BadInputError('gpuHours is too small to be worth a micro-credit', { field: 'gpuHours' });
    const costPerCredit = roundUnitPrice(price.div(gpu.creditsPerGpuHour));
    if (!costPerCredit.gt(0)) throw new BadInputError('wholesalePricePerGpuHour is too small', { field: 'wholesalePricePerGpuHour' });

    return withTransaction(this.dataSource, async (manager) => {
      const id = newId();
      const account = await this.platform.createLimited(manager, listingAccountCode(id), 'CREDIT', id);
      const listing = manager.create(ListingEntity, {
        id,
        sellerId: cmd.sellerId,
        gpuType: gpu.name,
        region,
        gpuHours,
        wholesalePricePerGpuHour: price,
        creditsPerGpuHour: gpu.creditsPerGpuHour,
        totalCredits,
        wholesaleCostPerCredit: costPerCredit,
        allocatedCredits: new Decimal(0),
        withdrawnCredits: new Decimal(0),
        availableFrom: cmd.availableFrom,
        availableUntil: cmd.availableUntil,
        status: 'OPEN',
        ledgerAccountId: account.id,
        createdAt: now,
        withdrawnAt: null,
      });
      await manager.insert(ListingEntity, listing);
      // The listed capacity enters the ledger: the listing's account holds what is unallocated.
      await this.ledger.transfer(manager, {
        idempotencyKey: `listing:${id}:list`,
        kind: 'listing.create',
        metadata: { listingId: id, sellerId: cmd.sellerId },
        effectiveAt: now,
        debitAccountId: this.platform.id('issuance'),
        creditAccountId: account.id,
        amount: totalCredits,
      });
      return listing;
    });
  }

  /** Takes the unallocated remainder off the market; allocated capacity stays with its buyers. */
  async withdraw(sellerId: string, id: string): Promise<ListingEntity> {
    const listingId = parseId(id, 'listing');
    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarketInTransaction(manager);
      const listing = await manager.findOneBy(ListingEntity, { id: listingId });
      if (!listing) throw new NotFoundError(`listing ${id} not found`);
      if (listing.sellerId !== sellerId) throw new DomainError(ErrorCode.FORBIDDEN, 'only the seller of a listing may withdraw it');
      const now = this.clock.now();
      const status = effectiveStatus(listing, now);
      if (status !== 'OPEN' && status !== 'SOLD_OUT') throw new InvalidStateError(`a ${status} listing cannot be withdrawn`);
      await this.retire(manager, listing, 'WITHDRAWN', now);
      return listing;
    });
  }

  async get(id: string): Promise<ListingEntity> {
    const found = await this.dataSource.manager.findOneBy(ListingEntity, { id: parseId(id, 'listing') });
    if (!found) throw new NotFoundError(`listing ${id} not found`);
    return found;
  }

  /** A listing's seller, stored status and window, share-locked in the caller's transaction (not withdrawn meanwhile). */
  async shareLockInTransaction(manager: EntityManager, id: string): Promise<{ sellerId: string; status: ListingStatus; availableUntil: Date } | null> {
    const [row] = await manager.query(`SELECT seller_id, status, available_until FROM listings WHERE id = $1 FOR SHARE`, [id]);
    return row ? { sellerId: row.seller_id, status: row.status, availableUntil: new Date(row.available_until) } : null;
  }

  /** Listings ordered by creation, filtered, as a cursor page. Status filters use the status at `now`. */
  async page(query: ListingQuery): Promise<{ items: ListingEntity[]; hasNextPage: boolean; totalCount: number }> {
    const now = this.clock.now();
    const first = query.first ?? DEFAULT_PAGE;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) {
      throw new BadInputError(`first must be from 1 to ${MAX_PAGE}`, { field: 'first' });
    }
    const qb = this.dataSource.manager.getRepository(ListingEntity).createQueryBuilder('l');
    const f = query.filter ?? {};
    if (f.gpuType) qb.andWhere('l.gpu_type = :gpuType', { gpuType: f.gpuType });
    if (f.region) qb.andWhere('l.region = :region', { region: f.region });
    if (f.status) {
      qb.andWhere(`(CASE WHEN l.status IN ('OPEN', 'SOLD_OUT') AND l.available_until <= :now THEN 'EXPIRED' ELSE l.status END) = :status`, {
        now,
        status: f.status,
      });
    }
    const totalCount = await qb.getCount();
    if (query.after !== undefined && query.after !== null) {
      const [createdAt, seq] = decodeCursor(query.after);
      qb.andWhere('(l.created_at, l.seq) > (:createdAt, :seq)', { createdAt, seq });
    }
    const items = await qb.orderBy('l.created_at', 'ASC').addOrderBy('l.seq', 'ASC').take(first + 1).getMany();
    return { items: items.slice(0, first), hasNextPage: items.length > first, totalCount };
  }

  /**
   * Servicing: listings whose window closed become EXPIRED (sold out or not, SPEC §4) and their
   * remainder, if any, leaves the market.
   */
  async expireDueInTransaction(manager: EntityManager, now: Date): Promise<number> {
    await this.market.lockMarketInTransaction(manager);
    const due = await manager
      .getRepository(ListingEntity)
      .createQueryBuilder('l')
      .where(`l.status IN ('OPEN', 'SOLD_OUT') AND l.available_until <= :now`, { now })
      .orderBy('l.available_until')
      .getMany();
    for (const listing of due) await this.retire(manager, listing, 'EXPIRED', listing.availableUntil);
    return due.length;
  }

  private async retire(manager: EntityManager, listing: ListingEntity, status: 'WITHDRAWN' | 'EXPIRED', at: Date): Promise<void> {
    const remainder = availableCredits(listing);
    if (remainder.gt(0)) {
      await this.ledger.transfer(manager, {
        idempotencyKey: `listing:${listing.id}:${status.toLowerCase()}`,
        kind: status === 'WITHDRAWN' ? 'listing.withdraw' : 'listing.expire',
        metadata: { listingId: listing.id },
        effectiveAt: at,
        debitAccountId: listing.ledgerAccountId,
        creditAccountId: this.platform.id('withdrawn'),
        amount: remainder,
      });
    }
    listing.withdrawnCredits = listing.withdrawnCredits.plus(remainder);
    listing.status = status;
    listing.withdrawnAt = status === 'WITHDRAWN' ? at : listing.withdrawnAt;
    await manager.update(ListingEntity, { id: listing.id }, { withdrawnCredits: listing.withdrawnCredits, status, withdrawnAt: listing.withdrawnAt });
  }
}

export function encodeCursor(listing: ListingEntity): string {
  return Buffer.from(JSON.stringify([listing.createdAt.toISOString(), listing.seq])).toString('base64url');
}

function decodeCursor(cursor: string): [Date, string] {
  try {
    const [createdAt, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const date = new Date(createdAt);
    if (Number.isNaN(date.getTime()) || typeof seq !== 'string' || !/^[0-9]{1,18}$/.test(seq)) throw new Error('bad cursor');
    return [date, seq];
  } catch {
    throw new BadInputError('after is not a cursor from this connection', { field: 'after' });
  }
}
