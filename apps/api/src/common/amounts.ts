import { AmountParseError, BadInputError, parseAmount, type Decimal, type ParseAmountOptions } from '@ccx/core';

export const USD_SCALE = 2;
export const CREDIT_SCALE = 6;
/** Unit prices and per-credit costs carry 6 decimals (SPEC §5). */
export const PRICE_SCALE = 6;

/** `parseAmount` for API input: any problem is BAD_USER_INPUT naming the field. */
export function inputAmount(value: unknown, field: string, options: Omit<ParseAmountOptions, 'field'>): Decimal {
  try {
    return parseAmount(value, { ...options, field });
  } catch (e) {
    if (e instanceof AmountParseError) throw new BadInputError(e.message, { field, problem: e.problem });
    throw e;
  }
}

export const usdInput = (value: unknown, field: string) => inputAmount(value, field, { scale: USD_SCALE });
export const creditsInput = (value: unknown, field: string) => inputAmount(value, field, { scale: CREDIT_SCALE });
export const priceInput = (value: unknown, field: string) => inputAmount(value, field, { scale: PRICE_SCALE });

/** A whole number in [min, max], else BAD_USER_INPUT. */
export function intInput(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadInputError(`${field} must be a whole number from ${min} to ${max}`, { field });
  }
  return value;
}

/** NUL (PostgreSQL text cannot hold it) and unpaired UTF-16 surrogates (not Unicode text at all). */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when a string cannot be stored as text as it was sent. */
export function hasUnstorableCharacters(value: string): boolean {
  return UNSTORABLE.test(value);
}

/** Trimmed text of 1..max characters of storable Unicode, else BAD_USER_INPUT. */
export function textInput(value: unknown, field: string, max: number): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (text.length === 0 || text.length > max) throw new BadInputError(`${field} must be 1 to ${max} characters`, { field });
  if (hasUnstorableCharacters(text)) {
    throw new BadInputError(`${field} must not contain NUL characters or unpaired surrogates`, { field });
  }
  return text;
}
