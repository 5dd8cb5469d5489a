import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { BadInputError, DomainError, ErrorCode, InvalidStateError, NotFoundError } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { newId, parseId } from '../common/ids.js';
import type { Principal } from '../auth/principal.js';
import { OrganizationsService } from '../organizations/index.js';
import { FinancingRequestEntity } from './financing-request.entity.js';
import type { RequestFinancingCommand } from './domain/financing-request-commands.js';
import { transition, type FinancingRequestEvent, type FinancingRequestStatus } from './domain/financing-request-rules.js';

/**
 * Financing requests (SPEC §13): a buyer publishes what it needs; lenders answer with
 * `offerFacility(financingRequestId)`; accepting such an offer funds the request in the
 * acceptance's own transaction. This module owns `financing_requests` and
 * `financing_request_offers`; the facilities module calls `attachOfferInTransaction` and `fundByFacilityInTransaction`.
 */
@Injectable()
export class FinancingRequestsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly organizations: OrganizationsService,
  ) {}

  async request(cmd: RequestFinancingCommand): Promise<FinancingRequestEntity> {
    const { amount, termMonths, purpose } = cmd;
    return withTransaction(this.dataSource, async (manager) => {
      const borrower = await this.organizations.findInTransaction(manager, cmd.borrowerId);
      if (!borrower || borrower.role !== 'BUYER') throw new DomainError(ErrorCode.FORBIDDEN, 'only a buyer may request financing');
      const entity = manager.create(FinancingRequestEntity, {
        id: newId(),
        borrowerId: cmd.borrowerId,
        amount,
        termMonths,
        purpose,
        status: 'OPEN',
        fundedByFacilityId: null,
        createdAt: this.clock.now(),
        closedAt: null,
      });
      await manager.insert(FinancingRequestEntity, entity);
      return entity;
    });
  }

  /** The borrower withdraws its OPEN request; withdrawing it again answers it unchanged. */
  async withdraw(borrowerId: string, requestId: string): Promise<FinancingRequestEntity> {
    return withTransaction(this.dataSource, async (manager) => {
      const found = await this.lock(manager, requestId);
      if (!found || found.borrowerId !== borrowerId) throw new NotFoundError(`financing request ${requestId} not found`);
      return this.apply(manager, found, { type: 'WITHDRAW' });
    });
  }

  /**
   * What `principal` may see (SPEC §13): a buyer its own; every ACTIVE lender the OPEN requests
   * and those its facilities funded (a lender that is not ACTIVE: only the latter); the operator
   * all. Newest first.
   */
  async visibleTo(principal: Principal, status?: FinancingRequestStatus | null): Promise<FinancingRequestEntity[]> {
    const qb = this.dataSource.manager.getRepository(FinancingRequestEntity).createQueryBuilder('r');
    if (principal.role === 'BUYER') {
      qb.andWhere('r.borrower_id = :me', { me: principal.organizationId });
    } else if (principal.role === 'LENDER') {
      const funded = `r.funded_by_facility_id IN (SELECT o.facility_id FROM financing_request_offers o WHERE o.lender_id = :me)`;
      qb.andWhere(principal.status === 'ACTIVE' ? `(r.status = 'OPEN' OR ${funded})` : funded, { me: principal.organizationId });
    } else if (principal.role !== 'OPERATOR') {
      throw new DomainError(ErrorCode.FORBIDDEN, `a ${principal.role} organization has no financing requests`);
    }
    if (status) qb.andWhere('r.status = :status', { status });
    // seq orders requests made at the same instant (the test clock stands still).
    return qb.orderBy('r.created_at', 'DESC').addOrderBy('r.seq', 'DESC').take(MAX_LIST).getMany();
  }

  /**
   * In the offer's transaction: the request must be OPEN and `borrowerId` its borrower. Locks the
   * request (shared) so that a concurrent withdrawal waits for the offer, or the offer sees it.
   */
  async attachOfferInTransaction(manager: EntityManager, offer: { financingRequestId: string; borrowerId: string; lenderId: string; facilityId: string }): Promise<void> {
    const requestId = parseId(offer.financingRequestId, 'financing request');
    const [found] = await manager.query(`SELECT borrower_id, status FROM financing_requests WHERE id = $1 FOR SHARE`, [requestId]);
    if (!found) throw new NotFoundError(`financing request ${requestId} not found`, { field: 'financingRequestId' });
    if (found.borrower_id !== offer.borrowerId) {
      throw new BadInputError('the offer must be made to the borrower of the financing request it names', { field: 'borrowerId' });
    }
    const verdict = transition(found.status, { type: 'OFFER' });
    if (!verdict.ok) throw new InvalidStateError(verdict.reason);
    await manager.query(
      `INSERT INTO financing_request_offers (facility_id, financing_request_id, lender_id) VALUES ($1, $2, $3)`,
      [offer.facilityId, requestId, offer.lenderId],
    );
  }

  /**
   * In the acceptance's transaction: when the facility answers a financing request, that request
   * becomes FUNDED — or, when it is no longer OPEN (funded by another offer, or withdrawn), the
   * acceptance is refused. A facility that names no request changes nothing here.
   */
  async fundByFacilityInTransaction(manager: EntityManager, facilityId: string): Promise<void> {
    const [link] = await manager.query(`SELECT financing_request_id FROM financing_request_offers WHERE facility_id = $1`, [facilityId]);
    if (!link) return;
    const found = await this.lock(manager, link.financing_request_id);
    await this.apply(manager, found!, { type: 'FUND', facilityId });
  }

  private lock(manager: EntityManager, id: string): Promise<FinancingRequestEntity | null> {
    return manager.findOne(FinancingRequestEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  private async apply(manager: EntityManager, request: FinancingRequestEntity, event: FinancingRequestEvent): Promise<FinancingRequestEntity> {
    const verdict = transition(request.status, event);
    if (!verdict.ok) throw new InvalidStateError(verdict.reason);
    if (!verdict.patch) return request;
    const patch = { status: verdict.patch.status, fundedByFacilityId: verdict.patch.fundedByFacilityId ?? null, closedAt: this.clock.now() };
    await manager.update(FinancingRequestEntity, { id: request.id }, patch);
    return Object.assign(request, patch);
  }
}

/** Lists are bounded: the newest 500 (the contract's list is not a connection). */
const MAX_LIST = 500;
