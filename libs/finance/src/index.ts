/**
 * Pure financing maths (SPEC §7): calendar dates with end-of-month clamping and day counts,
 * level-payment amortization schedules, and the Regulation Z (Appendix J) APR disclosure. No I/O.
 */
export { addMonthsClamped, wholeDaysBetween } from './dates.js';
export {
  amortizationSchedule,
  levelPayment,
  totalInterest,
  totalPayments,
  MAX_APR,
  MAX_APR_DECIMALS,
  MAX_TERM_MONTHS,
  type AmortizationInput,
  type Installment,
} from './amortization.js';
export {
  appendixJMonthlyUnitPeriods,
  regulationZApr,
  type RegulationZAprInput,
  type ScheduledPayment,
  type UnitPeriods,
} from './regulation-z.js';
export { disclosure, type Disclosure, type DisclosureInput } from './disclosure.js';
export {
  applyPayment,
  nextInstallment,
  payoffAmount,
  type PaymentInput,
  type PaymentLine,
  type PaymentResult,
  type ScheduleState,
} from './payments.js';
