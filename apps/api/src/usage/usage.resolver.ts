import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { DomainError, ErrorCode } from '@ccx/core';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { parseId } from '../common/ids.js';
import {
  AuthorizeUsageInput,
  CaptureUsageInput,
  RecordUsageInput,
  UsageHoldModel,
  UsageRecordModel,
  UsageReportInput,
  UsageReportRowModel,
} from './models/usage.models.js';
import { UsageHoldsService } from './usage-holds.service.js';
import { UsageReportsService } from './usage-reports.service.js';
import { UsageService } from './usage.service.js';
import { parseUsageEventCommand } from './domain/usage-event.js';
import { parseAuthorizeUsage, parseCaptureUsage } from './domain/usage-hold.js';
import { parseUsageReportQuery } from './domain/usage-report.js';

@Resolver()
export class UsageResolver {
  constructor(
    private readonly usage: UsageService,
    private readonly holds: UsageHoldsService,
    private readonly reports: UsageReportsService,
  ) {}

  @Mutation(() => UsageRecordModel, { description: "Operator (the gateway): charges one event to a buyer's credits." })
  @Access('OPERATOR')
  recordUsage(@Args('input') input: RecordUsageInput): Promise<UsageRecordModel> {
    return this.usage.recordOne(parseUsageEventCommand(input));
  }

  @Mutation(() => UsageHoldModel, { description: 'Operator: reserves an estimated cost before a call.' })
  @Access('OPERATOR')
  async authorizeUsage(@Args('input') input: AuthorizeUsageInput): Promise<UsageHoldModel> {
    return this.holds.authorize(parseAuthorizeUsage(input));
  }

  @Mutation(() => UsageRecordModel, { description: 'Operator: charges the actual cost of a held call and releases the rest.' })
  @Access('OPERATOR')
  captureUsage(@Args('input') input: CaptureUsageInput): Promise<UsageRecordModel> {
    return this.holds.capture(parseCaptureUsage(input));
  }

  @Mutation(() => UsageHoldModel)
  @Access('OPERATOR')
  async voidUsageHold(@Args('id', { type: () => ID }) id: string): Promise<UsageHoldModel> {
    return this.holds.void(parseId(id, 'hold'));
  }

  @Query(() => [UsageReportRowModel], { description: "A buyer's usage by day or model; the operator may name any buyer (or none: all)." })
  @Access('BUYER', 'OPERATOR')
  usageReport(
    @CurrentPrincipal() principal: Principal,
    @Args('input') input: UsageReportInput,
    @Args('organizationId', { type: () => ID, nullable: true }) organizationId?: string,
  ): Promise<UsageReportRowModel[]> {
    return this.reports.report(parseUsageReportQuery({ ...input, organizationId: reportTarget(principal, organizationId) }));
  }
}

/** Buyers see their own usage; the operator anyone's (or everyone's). */
export function reportTarget(principal: Principal, organizationId?: string | null): string | null {
  if (principal.role === 'OPERATOR') return organizationId ? parseId(organizationId, 'organization') : null;
  if (organizationId && organizationId !== principal.organizationId) {
    throw new DomainError(ErrorCode.FORBIDDEN, "only the operator may read another organization's usage");
  }
  return principal.organizationId;
}
