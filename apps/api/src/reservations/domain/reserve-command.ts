import type { Decimal } from '@ccx/core';
import { creditsInput, intInput, textInput } from '../../common/amounts.js';

/** A reservation as the service takes it: amounts parsed, the term and key checked. */
export interface ReserveCommand {
  buyerId: string;
  creditsPerMonth: Decimal;
  termMonths: number;
  idempotencyKey: string;
}

/** The reserveCredits input as it arrives. */
export interface ReserveFields {
  creditsPerMonth: unknown;
  termMonths: unknown;
  idempotencyKey: unknown;
}

/**
 * Parses a reservation at the edge. BAD_USER_INPUT names the first bad field, in the order
 * creditsPerMonth, termMonths (1 to `maxTermMonths`, a business rule), idempotencyKey.
 */
export function parseReserveCommand(buyerId: string, input: ReserveFields, maxTermMonths: number): ReserveCommand {
  const creditsPerMonth = creditsInput(input.creditsPerMonth, 'creditsPerMonth');
  const termMonths = intInput(input.termMonths, 'termMonths', 1, maxTermMonths);
  const idempotencyKey = textInput(input.idempotencyKey, 'idempotencyKey', 200);
  return { buyerId, creditsPerMonth, termMonths, idempotencyKey };
}
