import { Decimal, DomainError, ErrorCode } from '@ccx/core';
import type { Ledger, SqlRunner } from '@ccx/ledger';
import { LedgerRefusal } from '../ledger/ledger-refusals.js';
import { CREDIT_SCALE, USD_SCALE } from './amounts.js';

/**
 * Refusals in the user's terms (SPEC §11, issue 12 item 11): what was needed and what was there,
 * each at its asset's scale with thousands grouped — "the wallet holds 120.00 USD; this purchase
 * costs 1,833.60 USD". The ledger's own LIMIT_EXCEEDED names an internal account and a bare
 * number; it is for logs, and the use case that knows which wallet it charged turns it into one
 * of these.
 */

/** "1,833.60 USD" */
export function usdText(amount: Decimal): string {
  return `${amount.toFormat(USD_SCALE)} USD`;
}

/** "1,500.000000 credits" */
export function creditsText(amount: Decimal): string {
  return `${amount.toFormat(CREDIT_SCALE)} credits`;
}

/**
 * INSUFFICIENT_FUNDS: `available` is what the wallet could spend; `charge` says what was asked,
 * e.g. "this purchase costs" or "the early termination fee is", followed by the amount.
 */
export function insufficientFunds(available: Decimal, charge: string, amount: Decimal): DomainError {
  return new DomainError(ErrorCode.INSUFFICIENT_FUNDS, `the wallet holds ${usdText(Decimal.max(available, 0))}; ${charge} ${usdText(amount)}`);
}

/** INSUFFICIENT_CREDITS, the same way: "the buyer has 0.250000 credits available; this event costs 1.500000 credits". */
export function insufficientCredits(available: Decimal, charge: string, amount: Decimal): DomainError {
  return new DomainError(ErrorCode.INSUFFICIENT_CREDITS, `the buyer has ${creditsText(Decimal.max(available, 0))} available; ${charge} ${creditsText(amount)}`);
}

/**
 * Runs a ledger write that charges `amount` to the wallet `walletAccountId`. When the ledger
 * refuses because that wallet cannot cover it, the refusal becomes insufficientFunds with what
 * the wallet holds now (read in the same transaction, which the ledger's refusal leaves usable).
 * Any other error passes through unchanged.
 */
export async function chargingWallet<T>(
  ledger: Ledger,
  runner: SqlRunner,
  charge: { walletAccountId: string; amount: Decimal; what: string },
  write: () => Promise<T>,
): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!(error instanceof LedgerRefusal && error.reason === 'LIMIT_EXCEEDED' && error.details.accountId === charge.walletAccountId)) throw error;
    const { available } = await ledger.balance(runner, charge.walletAccountId);
    throw insufficientFunds(available, charge.what, charge.amount);
  }
}

/**
 * The net under the use cases: a LIMIT_EXCEEDED that no use case translated still must not show
 * the ledger's account code to a caller.
 */
export function publicMessage(error: DomainError): string {
  if (error instanceof LedgerRefusal && error.reason === 'LIMIT_EXCEEDED') return 'the balance cannot cover this operation';
  return error.message;
}
