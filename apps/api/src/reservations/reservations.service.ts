import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode, InvalidStateError, NotFoundError } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { LedgerRefusal } from '../ledger/ledger-refusals.js';
import { addMonthsClamped } from '@ccx/finance';
import { ClockService } from '../clock/clock.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { reservationAccountCode } from '../ledger/chart-of-accounts.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId, parseId } from '../common/ids.js';
import { chargingWallet } from '../common/refusals.js';
import { requestHash } from '../common/request-hash.js';
import { CreditsService } from '../credits/index.js';
import { DeliveryService } from '../credits/index.js';
import { MarketService, type AllocatedPart } from '../listings/index.js';
import { OrganizationsService } from '../organizations/index.js';
import { monthlyDeliveries, reservedUnitPrice, standardUnitPrice, termDiscount, totalPrice } from '../pricing/index.js';
import { earlyTerminationFee } from './domain/early-termination-fee.js';
import type { ReserveCommand } from './domain/reserve-command.js';
import { ReservationEntity } from './reservation.entity.js';

export type { ReserveCommand } from './domain/reserve-command.js';

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
    private readonly delivery: DeliveryService,
    private readonly organizations: OrganizationsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async reserve(cmd: ReserveCommand): Promise<ReservationEntity> {
    const rules = this.config.rules;
    const { creditsPerMonth, termMonths, idempotencyKey: key } = cmd;
    const hash = requestHash({ creditsPerMonth: creditsPerMonth.toFixed(6), termMonths });
    const commitment = creditsPerMonth.times(termMonths);

    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarketInTransaction(manager);
      const existing = await manager.findOneBy(ReservationEntity, { buyerId: cmd.buyerId, idempotencyKey: key });
      if (existing) {
        if (existing.requestHash !== hash) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, `idempotencyKey ${key} was used for a different reservation`);
        }
        return existing;
      }
      const now = this.clock.now();
      const snapshot = await this.market.snapshotInTransaction(manager, now);
      // Each month from the listings open at its delivery (SPEC §6): a listing never sells
      // capacity outside its window, so a reservation cannot outlive the listings it draws on.
      const deliveries = monthlyDeliveries(now, termMonths);
      const found = await this.market.reservationFillInTransaction(manager, creditsPerMonth, deliveries, now);
      if (!found) throw this.market.insufficientForReservation(creditsPerMonth, deliveries);
      const discountRate = termDiscount(termMonths, rules.pricing);
      const unitPrice = reservedUnitPrice(standardUnitPrice(found.fill, snapshot.utilization, now, rules.pricing), discountRate);
      if (!totalPrice(creditsPerMonth, unitPrice).gt(0)) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'a monthly delivery would cost less than a cent', { field: 'creditsPerMonth' });
      }

      const id = newId();
      const account = await this.platform.createLimited(manager, reservationAccountCode(id), 'CREDIT', cmd.buyerId);
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
      const parts = await this.market.allocateInTransaction(manager, found, 'RESERVATION', id, now);
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
      const firstMonth = { walletAccountId: await this.walletOf(manager, cmd.buyerId), amount: totalPrice(creditsPerMonth, unitPrice), what: "this reservation's first month costs" };
      await chargingWallet(this.ledger, manager, firstMonth, () => this.deliverNext(manager, reservation, now));
      return reservation;
    });
  }

  async cancel(buyerId: string, id: string): Promise<ReservationEntity> {
    const reservationId = parseId(id, 'reservation');
    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarketInTransaction(manager);
      const reservation = await manager.findOne(ReservationEntity, { where: { id: reservationId }, lock: { mode: 'pessimistic_write' } });
      if (!reservation || reservation.buyerId !== buyerId) throw new NotFoundError(`reservation ${id} not found`);
      if (reservation.status !== 'ACTIVE' && reservation.status !== 'PAST_DUE') {
        throw new InvalidStateError(`a ${reservation.status} reservation cannot be cancelled`);
      }
      const now = this.clock.now();
      const undelivered = reservation.termMonths - reservation.monthsDelivered;
      const fee = this.earlyTerminationFee(reservation);
      const buyerWallet = await this.walletOf(manager, buyerId);
      const released = await this.market.releaseInTransaction(manager, 'RESERVATION', reservation.id, now);
      const charge = { walletAccountId: buyerWallet, amount: fee, what: 'the early termination fee is' };
      await chargingWallet(this.ledger, manager, charge, () => this.ledger.post(manager, {
        idempotencyKey: `reservation:${reservation.id}:cancel`,
        kind: 'reservation.cancel',
        metadata: { reservationId: reservation.id, buyerId, undeliveredMonths: undelivered },
        effectiveAt: now,
        postings: [
          ...(fee.gt(0)
            ? [
                { accountId: buyerWallet, direction: 'DEBIT' as const, amount: fee },
                { accountId: this.platform.id('revenue'), direction: 'CREDIT' as const, amount: fee },
              ]
            : []),
          ...released.postings,
          ...(released.total.gt(0) ? [{ accountId: reservation.ledgerAccountId, direction: 'DEBIT' as const, amount: released.total }] : []),
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
        const last = await this.credits.lastReservationDeliveryInTransaction(manager, r.id);
        const late = r.status === 'PAST_DUE' || (last !== null && r.nextDeliveryAt < last);
        const at = late ? now : r.nextDeliveryAt;
        await this.deliverNext(manager, r, at);
        return 'delivered';
      });
    } catch (error) {
      if (!(error instanceof LedgerRefusal && error.reason === 'LIMIT_EXCEEDED')) throw error;
      await this.dataSource.query(`UPDATE reservations SET status = 'PAST_DUE' WHERE id = $1 AND status = 'ACTIVE'`, [id]);
      return 'unpaid';
    }
  }

  /** Delivers month `monthsDelivered + 1` at `at`: a block of creditsPerMonth, charged and paid out. */
  private async deliverNext(manager: EntityManager, r: ReservationEntity, at: Date): Promise<void> {
    const month = r.monthsDelivered;
    await this.delivery.deliverInTransaction(manager, {
      payerAccountId: await this.walletOf(manager, r.buyerId),
      charge: totalPrice(r.creditsPerMonth, r.unitPrice),
      block: {
        organizationId: r.buyerId,
        type: 'RESERVED',
        unitPrice: r.unitPrice,
        expiresAt: addMonthsClamped(at, this.config.rules.reservations.blockExpiryMonths),
        reservationId: r.id,
      },
      from: { kind: 'RESERVATION', reservationId: r.id, month, credits: r.creditsPerMonth, heldIn: r.ledgerAccountId },
      at,
      ledger: {
        idempotencyKey: `reservation:${r.id}:delivery:${month + 1}`,
        kind: 'reservation.delivery',
        metadata: (blockId) => ({ reservationId: r.id, month: month + 1, blockId }),
      },
    });
    r.monthsDelivered = month + 1;
    r.status = r.monthsDelivered === r.termMonths ? 'COMPLETED' : 'ACTIVE';
    r.nextDeliveryAt = r.monthsDelivered === r.termMonths ? null : addMonthsClamped(r.anchorAt, r.monthsDelivered);
    await manager.update(ReservationEntity, { id: r.id }, { monthsDelivered: r.monthsDelivered, status: r.status, nextDeliveryAt: r.nextDeliveryAt });
  }

  /** The wallet ledger account of an organization, read through its owner in this transaction. */
  private async walletOf(manager: EntityManager, organizationId: string): Promise<string> {
    const [organization] = await this.organizations.findManyInTransaction(manager, [organizationId]);
    if (!organization) throw new Error(`organization ${organizationId} does not exist`);
    return organization.walletAccountId;
  }
}

/** Credits taken from each listing's account (a listing may back several months). */
function perListing(parts: AllocatedPart[]): [string, Decimal][] {
  const sums = new Map<string, Decimal>();
  for (const p of parts) sums.set(p.listingAccountId, (sums.get(p.listingAccountId) ?? new Decimal(0)).plus(p.credits));
  return [...sums];
}
