import { BigNumber } from 'bignumber.js';
import type { Decimal } from '@ccx/core';

/** Throws unless `value` is a finite Decimal with at most 2 decimals. */
export function assertCents(value: unknown, field: string): asserts value is Decimal {
  if (!BigNumber.isBigNumber(value) || !value.isFinite()) throw new RangeError(`${field} must be a finite decimal`);
  if ((value.decimalPlaces() ?? 0) > 2) {
    throw new RangeError(`${field} must be whole cents (at most 2 decimals; got ${value.toFixed()})`);
  }
}

/** Throws unless `value` is a Date holding a real instant. */
export function assertValidDate(value: unknown, field: string): asserts value is Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new RangeError(`${field} must be a valid Date`);
}
