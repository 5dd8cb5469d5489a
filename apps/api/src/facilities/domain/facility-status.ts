/**
 * A facility's statuses (SPEC §7), defined once: the entity column, the lifecycle machine and the
 * GraphQL enum FacilityStatus all use this.
 */
export const FacilityStatus = {
  OFFERED: 'OFFERED',
  DECLINED: 'DECLINED',
  ACTIVE: 'ACTIVE',
  DELINQUENT: 'DELINQUENT',
  DEFAULTED: 'DEFAULTED',
  REPAID: 'REPAID',
  CHARGED_OFF: 'CHARGED_OFF',
} as const;
export type FacilityStatus = (typeof FacilityStatus)[keyof typeof FacilityStatus];

/** An installment's status is never stored: installmentStatus (facility-rules.ts) derives it. */
export const InstallmentStatus = {
  DUE: 'DUE',
  PARTIALLY_PAID: 'PARTIALLY_PAID',
  PAID: 'PAID',
  OVERDUE: 'OVERDUE',
} as const;
export type InstallmentStatus = (typeof InstallmentStatus)[keyof typeof InstallmentStatus];
