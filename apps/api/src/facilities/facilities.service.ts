import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { BadInputError, Decimal, DomainError, ErrorCode, InvalidStateError, NotFoundError } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import { LedgerRefusal } from '../ledger/ledger-refusals.js';
import { amortizationSchedule, regulationZApr, totalInterest } from '@ccx/finance';
import { ClockService } from '../clock/clock.service.js';
import { facilityDebtAccountCode, facilityReceivableAccountCode } from '../ledger/chart-of-accounts.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId, parseId } from '../common/ids.js';
import { CreditsService } from '../credits/index.js';
import { DeliveryService } from '../credits/index.js';
import { FinancingRequestsService } from '../financing-requests/index.js';
import { MarketService } from '../listings/index.js';
import type { BorrowerFacilityCommand, OfferFacilityCommand } from './domain/facility-commands.js';
import { INITIAL_STATUS } from './domain/facility-lifecycle.js';
import { costBasis } from './domain/facility-rules.js';
import { FacilityEntity } from './facility.entity.js';
import { FacilityLifecycleService } from './facility-lifecycle.service.js';
import { FacilityParties } from './facility-parties.js';
import { InstallmentEntity } from './installment.entity.js';

/**
 * Credit facilities (SPEC §7): a lender offers, the borrower accepts — and acceptance is one
 * transaction: principal out of the lender's wallet, the financing fee to the platform, the rest
 * buying capacity at wholesale cheapest first, a FINANCED block to the borrower expiring at
 * maturity, the schedule stored, and the debt recorded in the ledger.
 */
@Injectable()
export class FacilitiesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly market: MarketService,
    private readonly credits: CreditsService,
    private readonly delivery: DeliveryService,
    private readonly financingRequests: FinancingRequestsService,
    private readonly lifecycle: FacilityLifecycleService,
    private readonly parties: FacilityParties,
  ) {}

  /** The command comes parsed, defaults applied and the fee computed (domain/facility-commands.ts). */
  async offer(cmd: OfferFacilityCommand): Promise<FacilityEntity> {
    const { borrowerId, principal, apr, termMonths, financingFee: fee } = cmd;

    const now = this.clock.now();
    let schedule: ReturnType<typeof amortizationSchedule>;
    try {
      schedule = amortizationSchedule({ principal, apr, termMonths, startDate: now });
    } catch (error) {
      // e.g. a principal too small to amortize over the term in cents.
      if (error instanceof RangeError) throw new BadInputError(error.message);
      throw error;
    }
    // Regulation Z: the fee is a prepaid finance charge; payments fall on monthly anniversaries,
    // so the disclosed APR does not depend on the acceptance date.
    const disclosedApr = regulationZApr({
      amountFinanced: principal.minus(fee),
      payments: schedule.map((i) => ({ amount: i.payment, dueDate: i.dueDate })),
      startDate: now,
    });

    return withTransaction(this.dataSource, async (manager) => {
      const borrower = await this.parties.findInTransaction(manager, borrowerId);
      if (!borrower || borrower.role !== 'BUYER') throw new NotFoundError(`borrower ${borrowerId} is not a buyer on CCX`, { field: 'borrowerId' });
      if (borrower.status !== 'ACTIVE') throw new InvalidStateError(`the borrower is ${borrower.status}`);
      const facility = manager.create(FacilityEntity, {
        id: newId(),
        lenderId: cmd.lenderId,
        borrowerId,
        principal,
        apr,
        termMonths,
        graceDays: cmd.graceDays,
        defaultAfterDaysPastDue: cmd.defaultAfterDaysPastDue,
        recoveryRate: cmd.recoveryRate,
        financingFee: fee,
        disclosedApr,
        totalInterest: totalInterest(schedule),
        status: INITIAL_STATUS,
        defaultSticky: false,
        acceptedAt: null,
        maturityAt: null,
        defaultedAt: null,
        blockId: null,
        creditsGranted: null,
        purchaseAmount: null,
        debtAccountId: null,
        receivableAccountId: null,
        recoveredAmount: new Decimal(0),
        chargedOffAmount: new Decimal(0),
        createdAt: now,
      });
      await manager.insert(FacilityEntity, facility);
      if (cmd.financingRequestId !== null) {
        await this.financingRequests.attachOfferInTransaction(manager, { financingRequestId: cmd.financingRequestId, borrowerId, lenderId: cmd.lenderId, facilityId: facility.id });
      }
      return facility;
    });
  }

  async decline({ borrowerId, facilityId }: BorrowerFacilityCommand): Promise<FacilityEntity> {
    return withTransaction(this.dataSource, async (manager) => {
      const facility = await this.lockForBorrower(manager, borrowerId, facilityId);
      await this.lifecycle.transitionInTransaction(manager, facility, { type: 'DECLINE' });
      return facility;
    });
  }

  /** Accepting an already accepted facility answers it again (a safe retry), changing nothing. */
  async accept({ borrowerId, facilityId }: BorrowerFacilityCommand): Promise<FacilityEntity> {
    return withTransaction(this.dataSource, async (manager) => {
      await this.market.lockMarketInTransaction(manager);
      const facility = await this.lockForBorrower(manager, borrowerId, facilityId);
      // Decided before anything moves; the patch is written with the acceptance's terms below.
      const acceptance = this.lifecycle.decide(facility, { type: 'ACCEPT' });
      if (!acceptance) return facility;
      const borrower = await this.parties.getInTransaction(manager, borrowerId);
      if (borrower.status !== 'ACTIVE') throw new DomainError(ErrorCode.FORBIDDEN, `a ${borrower.status} organization cannot accept`);
      const lender = await this.parties.getInTransaction(manager, facility.lenderId);
      if (lender.status !== 'ACTIVE') throw new InvalidStateError(`the lender is ${lender.status}; this offer cannot be accepted now`);
      // An offer that answers a financing request funds it (SPEC §13), or is refused if it was funded or withdrawn.
      await this.financingRequests.fundByFacilityInTransaction(manager, facility.id);
      const lenderFunds = await this.ledger.balance(manager, lender.walletAccountId);
      if (lenderFunds.available.lt(facility.principal)) {
        throw new DomainError(ErrorCode.INSUFFICIENT_FUNDS, "the lender's wallet cannot fund this facility's principal");
      }
      const now = this.clock.now();
      const purchaseAmount = facility.principal.minus(facility.financingFee);
      const found = await this.market.fillForAmountInTransaction(manager, purchaseAmount, now);
      if (!found || !found.fill.credits.gt(0)) {
        throw new DomainError(ErrorCode.INSUFFICIENT_CAPACITY, `the market cannot supply ${purchaseAmount.toFixed(2)} of capacity at wholesale`);
      }
      const { fill } = found;
      const schedule = amortizationSchedule({ principal: facility.principal, apr: facility.apr, termMonths: facility.termMonths, startDate: now });
      const maturity = schedule[schedule.length - 1].dueDate;
      const debt = await this.ledger.createAccount(manager, {
        code: facilityDebtAccountCode(facility.id),
        asset: 'USD',
        ownerRef: borrowerId,
        allowNegative: true,
        allowPositive: false,
      });
      const receivable = await this.platform.createLimited(manager, facilityReceivableAccountCode(facility.id), 'USD', facility.lenderId);
      // The lender pays the principal: the fee and the wholesale purchase (sellers paid at once;
      // the platform keeps the fee and any sub-cent rounding of the payouts), as two entries of its
      // wallet, so that its statement shows the funding and the fee apart. The borrower's debt
      // to the lender is recorded as a pair of facility accounts.
      let block: Awaited<ReturnType<DeliveryService['deliverInTransaction']>>['block'];
      try {
        ({ block } = await this.delivery.deliverInTransaction(manager, {
          payerAccountId: lender.walletAccountId,
          charge: purchaseAmount,
          block: { organizationId: borrowerId, type: 'FINANCED', unitPrice: costBasis(purchaseAmount, fill.credits), expiresAt: maturity, facilityId: facility.id },
          from: { kind: 'MARKET', found, purpose: 'FACILITY', purposeId: facility.id },
          at: now,
          ledger: {
            idempotencyKey: `facility:${facility.id}:accept`,
            kind: 'facility.accept',
            metadata: (blockId) => ({ facilityId: facility.id, lenderId: facility.lenderId, borrowerId, blockId, financingFee: facility.financingFee.toFixed(2) }),
            extraPostings: [
              ...(facility.financingFee.gt(0)
                ? [
                    { accountId: lender.walletAccountId, direction: 'DEBIT' as const, amount: facility.financingFee },
                    { accountId: this.platform.id('revenue'), direction: 'CREDIT' as const, amount: facility.financingFee },
                  ]
                : []),
              { accountId: debt.id, direction: 'DEBIT', amount: facility.principal },
              { accountId: receivable.id, direction: 'CREDIT', amount: facility.principal },
            ],
          },
        }));
      } catch (error) {
        if (error instanceof LedgerRefusal && error.reason === 'LIMIT_EXCEEDED') {
          throw new DomainError(ErrorCode.INSUFFICIENT_FUNDS, "the lender's wallet cannot fund this facility's principal");
        }
        throw error;
      }
      await manager.insert(
        InstallmentEntity,
        schedule.map((i) => ({
          facilityId: facility.id,
          number: i.number,
          dueDate: i.dueDate,
          payment: i.payment,
          principal: i.principal,
          interest: i.interest,
          principalPaid: new Decimal(0),
          interestPaid: new Decimal(0),
        })),
      );
      Object.assign(facility, {
        ...acceptance,
        acceptedAt: now,
        maturityAt: maturity,
        blockId: block.id,
        creditsGranted: fill.credits,
        purchaseAmount,
        debtAccountId: debt.id,
        receivableAccountId: receivable.id,
      });
      await manager.update(FacilityEntity, { id: facility.id }, {
        ...acceptance,
        acceptedAt: now,
        maturityAt: maturity,
        blockId: block.id,
        creditsGranted: fill.credits,
        purchaseAmount,
        debtAccountId: debt.id,
        receivableAccountId: receivable.id,
      });
      return facility;
    });
  }

  /** The facilities a caller may see: as lender, as borrower, or all for the operator. */
  async visibleTo(principal: { organizationId: string; role: string }): Promise<FacilityEntity[]> {
    const where =
      principal.role === 'OPERATOR'
        ? {}
        : principal.role === 'LENDER'
          ? { lenderId: principal.organizationId }
          : { borrowerId: principal.organizationId };
    return this.dataSource.manager.find(FacilityEntity, { where, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** One facility if the caller is its lender, its borrower or the operator; otherwise null (no leak). */
  async visible(principal: { organizationId: string; role: string }, id: string): Promise<FacilityEntity | null> {
    let facilityId: string;
    try {
      facilityId = parseId(id, 'facility');
    } catch {
      return null;
    }
    const f = await this.dataSource.manager.findOneBy(FacilityEntity, { id: facilityId });
    if (!f) return null;
    const mine = principal.role === 'OPERATOR' || f.lenderId === principal.organizationId || f.borrowerId === principal.organizationId;
    return mine ? f : null;
  }

  installmentsInTransaction(manager: EntityManager, facilityIds: string[]): Promise<InstallmentEntity[]> {
    if (!facilityIds.length) return Promise.resolve([]);
    return manager.find(InstallmentEntity, { where: { facilityId: In(facilityIds) }, order: { facilityId: 'ASC', number: 'ASC' } });
  }

  private async lockForBorrower(manager: EntityManager, borrowerId: string, id: string): Promise<FacilityEntity> {
    const facility = await manager.findOne(FacilityEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
    if (!facility || facility.borrowerId !== borrowerId) throw new NotFoundError(`facility ${id} not found`);
    return facility;
  }
}
