import { Decimal } from '@ccx/core';

/** A term discount band (SPEC §5): commitments of minMonths..maxMonths get `rate` off. */
export interface TermDiscount {
  minMonths: number;
  maxMonths: number;
  rate: Decimal;
}

/**
 * The product's default numbers (SPEC §5–§8) as configuration: services read them from here,
 * never from literals. `loadConfig` applies the environment overrides it documents.
 */
export interface BusinessRules {
  pricing: {
    margin: Decimal;
    /** Utilization above which the demand multiplier rises: 1 + max(0, u − threshold). */
    demandThreshold: Decimal;
    nightFactor: Decimal;
    /** Night is [nightStartHour, nightEndHour) UTC, wrapping midnight. */
    nightStartHour: number;
    nightEndHour: number;
    termDiscounts: TermDiscount[];
  };
  reservations: {
    maxTermMonths: number;
    blockExpiryMonths: number;
    earlyTerminationRate: Decimal;
  };
  financing: {
    feeRate: Decimal;
    graceDays: number;
    defaultAfterDaysPastDue: number;
    recoveryRate: Decimal;
  };
  usage: {
    holdMinutes: number;
  };
  /** How often servicing runs by itself; 0 disables the timer (it still runs after clock changes). */
  servicingIntervalMs: number;
}

export function defaultBusinessRules(): BusinessRules {
  return {
    pricing: {
      margin: new Decimal('0.20'),
      demandThreshold: new Decimal('0.5'),
      nightFactor: new Decimal('0.90'),
      nightStartHour: 22,
      nightEndHour: 6,
      termDiscounts: [
        { minMonths: 1, maxMonths: 2, rate: new Decimal('0.05') },
        { minMonths: 3, maxMonths: 5, rate: new Decimal('0.10') },
        { minMonths: 6, maxMonths: 11, rate: new Decimal('0.15') },
        { minMonths: 12, maxMonths: 36, rate: new Decimal('0.25') },
      ],
    },
    reservations: { maxTermMonths: 36, blockExpiryMonths: 3, earlyTerminationRate: new Decimal('0.25') },
    financing: { feeRate: new Decimal('0.02'), graceDays: 5, defaultAfterDaysPastDue: 30, recoveryRate: new Decimal('0.80') },
    usage: { holdMinutes: 10 },
    servicingIntervalMs: 60_000,
  };
}
