import { BadInputError, type Decimal } from '@ccx/core';
import { CREDIT_SCALE, creditsInput, intInput } from '../../common/amounts.js';
import { CreditType } from '../../credits/index.js';

/** A quote as the service takes it: `termMonths` is set for RESERVED only. */
export interface QuoteCommand {
  type: CreditType;
  credits: Decimal;
  termMonths: number | null;
}

/** The quote input as it arrives. */
export interface QuoteFields {
  type: CreditType;
  credits: unknown;
  termMonths?: unknown;
}

/**
 * Parses a quote at the edge: credits, then (RESERVED) termMonths from 1 to `maxTermMonths`, and
 * credits must split into whole micro-credits per month.
 */
export function parseQuoteCommand(input: QuoteFields, maxTermMonths: number): QuoteCommand {
  const credits = creditsInput(input.credits, 'credits');
  let termMonths: number | null = null;
  if (input.type === CreditType.RESERVED) {
    termMonths = intInput(input.termMonths, 'termMonths', 1, maxTermMonths);
    // creditsPerMonth = credits ÷ termMonths must be a whole number of micro-credits (e.g. 10
    // over 4 months is 2.5 a month), so test the micro-credits, not the credits, for divisibility.
    if (!credits.shiftedBy(CREDIT_SCALE).mod(termMonths).isZero()) {
      throw new BadInputError('credits must be creditsPerMonth × termMonths (micro-credits per month)', { field: 'credits' });
    }
  }
  return { type: input.type, credits, termMonths };
}
