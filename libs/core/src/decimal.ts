import { BigNumber } from 'bignumber.js';

/**
 * The one BigNumber configuration of CCX. Every amount of money or credits is a `Decimal`
 * (never a JS number). Division carries 30 decimals so that rounding happens only at the named
 * boundaries below, never by accident in an intermediate step.
 */
export const Decimal = BigNumber.clone({
  DECIMAL_PLACES: 30,
  ROUNDING_MODE: BigNumber.ROUND_HALF_UP,
  EXPONENTIAL_AT: [-1e9, 1e9],
});
export type Decimal = BigNumber;
export type DecimalLike = string | BigNumber;

/** Rounding modes used by the named boundaries (SPEC §1). */
export const Rounding = {
  HALF_UP: BigNumber.ROUND_HALF_UP,
  DOWN: BigNumber.ROUND_DOWN,
  UP: BigNumber.ROUND_UP,
} as const;

/** Largest absolute amount accepted from outside (a quadrillion): far above any real order. */
export const MAX_ABS_AMOUNT = new Decimal('1e15');

/** Plain decimal notation only: optional minus, digits, optional fraction. No exponent, no sign '+'. */
const DECIMAL_PATTERN = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

export type AmountProblem =
  | 'NOT_A_STRING'
  | 'NOT_DECIMAL_NOTATION'
  | 'TOO_MANY_DECIMALS'
  | 'NOT_POSITIVE'
  | 'NEGATIVE'
  | 'TOO_LARGE';

export class AmountParseError extends Error {
  constructor(
    readonly problem: AmountProblem,
    message: string,
  ) {
    super(message);
    this.name = 'AmountParseError';
  }
}

export interface ParseAmountOptions {
  /** Maximum number of decimals (the asset's scale). */
  scale: number;
  /** 'positive' (default): > 0; 'nonNegative': >= 0; 'any': any sign. */
  sign?: 'positive' | 'nonNegative' | 'any';
  /** Name used in error messages, e.g. "amount". */
  field?: string;
}

/**
 * Parses an amount that came from outside (GraphQL, REST, configuration) with the strict rules of
 * SPEC §1: plain decimal notation, at most `scale` decimals, a sign as required. Anything else —
 * NaN, Infinity, "1e3", "+1", " 1", "0x10", a JS number — is rejected with the reason.
 */
export function parseAmount(input: unknown, options: ParseAmountOptions): Decimal {
  const field = options.field ?? 'amount';
  if (typeof input !== 'string') {
    throw new AmountParseError('NOT_A_STRING', `${field} must be a decimal string such as "12.50"`);
  }
  if (input.length > 64 || !DECIMAL_PATTERN.test(input)) {
    throw new AmountParseError(
      'NOT_DECIMAL_NOTATION',
      `${field} must be a plain decimal number such as "12.50" (no exponent, sign '+', spaces or NaN)`,
    );
  }
  const value = new Decimal(input);
  const decimals = value.decimalPlaces() ?? 0;
  if (decimals > options.scale) {
    throw new AmountParseError(
      'TOO_MANY_DECIMALS',
      `${field} has ${decimals} decimals; at most ${options.scale} are allowed`,
    );
  }
  if (value.abs().gt(MAX_ABS_AMOUNT)) {
    throw new AmountParseError('TOO_LARGE', `${field} is larger than ${MAX_ABS_AMOUNT.toFixed()}`);
  }
  const sign = options.sign ?? 'positive';
  if (sign === 'positive' && !value.gt(0)) {
    throw new AmountParseError('NOT_POSITIVE', `${field} must be greater than zero`);
  }
  if (sign === 'nonNegative' && value.lt(0)) {
    throw new AmountParseError('NEGATIVE', `${field} must not be negative`);
  }
  // Normalise "-0" to "0".
  return value.isZero() ? new Decimal(0) : value;
}

/** True when `value` has no more than `scale` decimals. */
export function fitsScale(value: Decimal, scale: number): boolean {
  return (value.decimalPlaces() ?? 0) <= scale;
}

/** USD results: cents, HALF_UP (SPEC §1). */
export function roundUsd(value: DecimalLike): Decimal {
  return new Decimal(value).decimalPlaces(2, Rounding.HALF_UP);
}

/** Credits granted to a buyer: micro-credits rounded DOWN — never issue more than was paid for. */
export function roundCreditsGranted(value: DecimalLike): Decimal {
  return new Decimal(value).decimalPlaces(6, Rounding.DOWN);
}

/** Credits charged for usage: micro-credits rounded UP — a tiny call never costs zero. */
export function roundCreditsCharged(value: DecimalLike): Decimal {
  return new Decimal(value).decimalPlaces(6, Rounding.UP);
}

/** Unit prices: 6 decimals HALF_UP (SPEC §5). */
export function roundUnitPrice(value: DecimalLike): Decimal {
  return new Decimal(value).decimalPlaces(6, Rounding.HALF_UP);
}

/** Canonical text of an amount at a fixed scale, e.g. formatAmount(1.5, 2) === "1.50". */
export function formatAmount(value: DecimalLike, scale: number): string {
  return new Decimal(value).toFixed(scale);
}
