import { Injectable } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { Decimal, formatAmount } from '@ccx/core';
import { amortizationSchedule, payoffAmount } from '@ccx/finance';
import { ClockService } from '../clock/clock.service.js';
import { CreditsService } from '../credits/index.js';
import { FreezeService } from '../freeze/index.js';
import {
  daysPastDue,
  installmentStatus,
  outstandingPrincipal,
  pastDueAmount,
  type InstallmentState,
} from './domain/facility-rules.js';
import type { FacilityEntity } from './facility.entity.js';
import { InstallmentEntity } from './installment.entity.js';
import type { FacilityModel } from './models/facility.models.js';

const usd = (d: Decimal) => formatAmount(d, 2);

/** Facilities as the API shows them: stored figures plus what the schedule and clock imply now. */
@Injectable()
export class FacilityViews {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly credits: CreditsService,
    private readonly freeze: FreezeService,
  ) {}

  async one(facility: FacilityEntity, viewer: { organizationId: string; role: string }): Promise<FacilityModel> {
    return (await this.many([facility], viewer))[0];
  }

  /** Batched: one query each for installments, blocks and freeze events, whatever the count. */
  async many(facilities: FacilityEntity[], viewer: { organizationId: string; role: string }): Promise<FacilityModel[]> {
    if (!facilities.length) return [];
    const manager = this.dataSource.manager;
    const ids = facilities.map((f) => f.id);
    const installments = await manager.find(InstallmentEntity, { where: { facilityId: In(ids) }, order: { number: 'ASC' } });
    const blockIds = facilities.map((f) => f.blockId).filter((id): id is string => !!id);
    const blockViews = new Map((await this.credits.viewsByIdsInTransaction(manager, blockIds)).map((v) => [v.id, v]));
    const events = await this.freeze.eventsInTransaction(manager, ids);
    const now = this.clock.now();

    return facilities.map((f) => {
      const own = installments.filter((i) => i.facilityId === f.id);
      const schedule: InstallmentState[] = f.acceptedAt ? own : this.prospective(f, now);
      const settled = f.status === 'CHARGED_OFF' || f.status === 'REPAID';
      const block = f.blockId ? (blockViews.get(f.blockId) ?? null) : null;
      const seesAudit = viewer.role === 'OPERATOR' || viewer.organizationId === f.lenderId;
      return {
        id: f.id,
        lenderId: f.lenderId,
        borrowerId: f.borrowerId,
        principal: usd(f.principal),
        apr: f.apr.toFixed(),
        termMonths: f.termMonths,
        graceDays: f.graceDays,
        defaultAfterDaysPastDue: f.defaultAfterDaysPastDue,
        recoveryRate: f.recoveryRate.toFixed(),
        status: f.status,
        financingFee: usd(f.financingFee),
        disclosedApr: formatAmount(f.disclosedApr, 4),
        totalInterest: usd(f.totalInterest),
        creditsGranted: f.creditsGranted ? formatAmount(f.creditsGranted, 6) : null,
        creditBlock: block,
        schedule: schedule.map((i) => ({
          number: i.number,
          dueDate: i.dueDate,
          payment: usd(i.payment),
          principal: usd(i.principal),
          interest: usd(i.interest),
          principalPaid: usd(i.principalPaid),
          interestPaid: usd(i.interestPaid),
          status: installmentStatus(i, now),
        })),
        // Nothing is owed before acceptance, and nothing after repayment or charge-off.
        outstandingPrincipal: usd(settled || !f.acceptedAt ? new Decimal(0) : outstandingPrincipal(f.principal, own)),
        pastDueAmount: usd(settled || !f.acceptedAt ? new Decimal(0) : pastDueAmount(own, now)),
        payoffAmount: usd(settled || !f.acceptedAt ? new Decimal(0) : payoffAmount(own, now)),
        daysPastDue: settled || !f.acceptedAt ? 0 : daysPastDue(own, now),
        frozen: block?.status === 'FROZEN',
        recoveredAmount: usd(f.recoveredAmount),
        chargedOffAmount: usd(f.chargedOffAmount),
        acceptedAt: f.acceptedAt,
        maturityAt: f.maturityAt,
        freezeEvents: seesAudit
          ? events
              .filter((e) => e.facilityId === f.id)
              .map((e) => ({ action: e.action, actorId: e.actorId, reason: e.reason, at: e.at }))
          : null,
        createdAt: f.createdAt,
      };
    });
  }

  /** Before acceptance: the schedule the facility would have if accepted now. */
  private prospective(f: FacilityEntity, now: Date): InstallmentState[] {
    return amortizationSchedule({ principal: f.principal, apr: f.apr, termMonths: f.termMonths, startDate: now }).map((i) => ({
      number: i.number,
      dueDate: i.dueDate,
      payment: i.payment,
      principal: i.principal,
      interest: i.interest,
      principalPaid: new Decimal(0),
      interestPaid: new Decimal(0),
    }));
  }
}
