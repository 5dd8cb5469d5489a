import { BadInputError } from '@ccx/core';

/** How a usage report groups events (SPEC §8): by UTC day or by model. The GraphQL enum too. */
export const UsageGroupBy = {
  DAY: 'DAY',
  MODEL: 'MODEL',
} as const;
export type UsageGroupBy = (typeof UsageGroupBy)[keyof typeof UsageGroupBy];

/** The longest period one report covers. */
export const MAX_REPORT_DAYS = 3660;

/** A usage report to run: one buyer's events (or everyone's: null) that occurred in [from, to). */
export interface UsageReportQuery {
  organizationId: string | null;
  from: Date;
  to: Date;
  groupBy: UsageGroupBy;
}

/** Judges the period, then the grouping, in that order (the REST and GraphQL answers name the same field). */
export function parseUsageReportQuery(input: { organizationId: string | null; from: unknown; to: unknown; groupBy: unknown }): UsageReportQuery {
  const { from, to } = input;
  if (!(from instanceof Date) || !(to instanceof Date) || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new BadInputError('from and to must be instants');
  }
  if (to.getTime() <= from.getTime()) throw new BadInputError('to must be after from', { field: 'to' });
  if (to.getTime() - from.getTime() > MAX_REPORT_DAYS * 86_400_000) {
    throw new BadInputError(`a report covers at most ${MAX_REPORT_DAYS} days`, { field: 'to' });
  }
  if (input.groupBy !== UsageGroupBy.DAY && input.groupBy !== UsageGroupBy.MODEL) throw new BadInputError('groupBy must be DAY or MODEL', { field: 'groupBy' });
  return { organizationId: input.organizationId, from, to, groupBy: input.groupBy };
}
