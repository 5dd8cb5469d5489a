import type { Decimal } from '@ccx/core';
import { intInput, textInput, usdInput } from '../../common/amounts.js';

/** The facility rules' term (facilities offer 1 to 360 months). */
export const MAX_REQUEST_TERM_MONTHS = 360;
export const MAX_PURPOSE = 500;

export interface RequestFinancingCommand {
  borrowerId: string;
  /** USD, more than 0, at most 2 decimals. */
  amount: Decimal;
  termMonths: number;
  purpose: string;
}

export function parseRequestFinancing(
  borrowerId: string,
  input: { amount?: unknown; termMonths?: unknown; purpose?: unknown },
): RequestFinancingCommand {
  return {
    borrowerId,
    amount: usdInput(input.amount, 'amount'),
    termMonths: intInput(input.termMonths, 'termMonths', 1, MAX_REQUEST_TERM_MONTHS),
    purpose: textInput(input.purpose, 'purpose', MAX_PURPOSE),
  };
}
