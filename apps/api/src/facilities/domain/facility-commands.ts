import { BadInputError, roundUsd, type Decimal } from '@ccx/core';
import { inputAmount, intInput, textInput, usdInput } from '../../common/amounts.js';
import { parseId } from '../../common/ids.js';

/**
 * The facilities' use cases as typed commands: the resolver parses API input into these (each
 * refusal BAD_USER_INPUT or NOT_FOUND with the same field and message as ever) and the services
 * take nothing untyped.
 */

/** The platform's financing defaults (AppConfig rules.financing). */
export interface FinancingDefaults {
  feeRate: Decimal;
  graceDays: number;
  defaultAfterDaysPastDue: number;
  recoveryRate: Decimal;
}

export interface OfferFacilityCommand {
  lenderId: string;
  borrowerId: string;
  principal: Decimal;
  /** A fraction: 0.18 is 18% a year. */
  apr: Decimal;
  termMonths: number;
  graceDays: number;
  defaultAfterDaysPastDue: number;
  recoveryRate: Decimal;
  /** Kept by the platform at acceptance: principal × the fee rate, in cents. */
  financingFee: Decimal;
  /** The financing request this offer answers (SPEC §13), if any; checked when attached. */
  financingRequestId: string | null;
}

/** The borrower's answer to an offer (accept or decline). */
export interface BorrowerFacilityCommand {
  borrowerId: string;
  facilityId: string;
}

export interface RepayFacilityCommand {
  borrowerId: string;
  facilityId: string;
  amount: Decimal;
  idempotencyKey: string;
}

/** The lender's recovery, freeze and unfreeze. */
export interface LenderFacilityCommand {
  lenderId: string;
  facilityId: string;
}
export interface LenderFreezeCommand extends LenderFacilityCommand {
  reason: string;
}
export interface LenderUnfreezeCommand extends LenderFacilityCommand {
  /** null: the default reason. */
  reason: string | null;
}

const MAX_TERM_MONTHS = 360;
const MAX_REASON = 500;

export interface OfferFacilityInput {
  borrowerId?: unknown;
  principal?: unknown;
  apr?: unknown;
  termMonths?: unknown;
  graceDays?: number | null;
  defaultAfterDaysPastDue?: number | null;
  recoveryRate?: unknown;
  financingRequestId?: string | null;
}

export function parseOfferFacility(lenderId: string, input: OfferFacilityInput, defaults: FinancingDefaults): OfferFacilityCommand {
  const borrowerId = parseId(input.borrowerId, 'borrower');
  const principal = usdInput(input.principal, 'principal');
  const apr = inputAmount(input.apr, 'apr', { scale: 6, sign: 'nonNegative' });
  if (apr.gt(1)) throw new BadInputError('apr is a fraction: "0.18" is 18%; at most 1', { field: 'apr' });
  const termMonths = intInput(input.termMonths, 'termMonths', 1, MAX_TERM_MONTHS);
  const graceDays = intInput(input.graceDays ?? defaults.graceDays, 'graceDays', 0, 365);
  const defaultAfterDaysPastDue = intInput(input.defaultAfterDaysPastDue ?? defaults.defaultAfterDaysPastDue, 'defaultAfterDaysPastDue', graceDays + 1, 3650);
  const recoveryRate =
    input.recoveryRate === undefined || input.recoveryRate === null
      ? defaults.recoveryRate
      : inputAmount(input.recoveryRate, 'recoveryRate', { scale: 6, sign: 'nonNegative' });
  if (recoveryRate.gt(1)) throw new BadInputError('recoveryRate is a fraction from 0 to 1', { field: 'recoveryRate' });
  const financingFee = roundUsd(principal.times(defaults.feeRate));
  if (!principal.gt(financingFee)) throw new BadInputError('principal must exceed the financing fee', { field: 'principal' });
  return {
    lenderId,
    borrowerId,
    principal,
    apr,
    termMonths,
    graceDays,
    defaultAfterDaysPastDue,
    recoveryRate,
    financingFee,
    financingRequestId: input.financingRequestId ?? null,
  };
}

/**
 * A well-formed id kept as sent (the database compares uuids regardless of case): decline and the
 * lender's acts have always quoted the caller's spelling in their NOT_FOUND message.
 */
function idAsSent(value: unknown, what: string): string {
  parseId(value, what);
  return value as string;
}

export function parseAcceptFacility(borrowerId: string, facilityId: unknown): BorrowerFacilityCommand {
  return { borrowerId, facilityId: parseId(facilityId, 'facility') };
}

export function parseDeclineFacility(borrowerId: string, facilityId: unknown): BorrowerFacilityCommand {
  return { borrowerId, facilityId: idAsSent(facilityId, 'facility') };
}

export function parseRepayFacility(borrowerId: string, input: { facilityId?: unknown; amount?: unknown; idempotencyKey?: unknown }): RepayFacilityCommand {
  return {
    borrowerId,
    facilityId: parseId(input.facilityId, 'facility'),
    amount: usdInput(input.amount, 'amount'),
    idempotencyKey: textInput(input.idempotencyKey, 'idempotencyKey', 200),
  };
}

export function parseLenderFacility(lenderId: string, facilityId: unknown): LenderFacilityCommand {
  return { lenderId, facilityId: idAsSent(facilityId, 'facility') };
}

/** The reason is read before the id, as it always was. */
export function parseLenderFreeze(lenderId: string, facilityId: unknown, reason: unknown): LenderFreezeCommand {
  const why = textInput(reason, 'reason', MAX_REASON);
  return { ...parseLenderFacility(lenderId, facilityId), reason: why };
}

export function parseLenderUnfreeze(lenderId: string, facilityId: unknown, reason: unknown): LenderUnfreezeCommand {
  const why = reason === undefined || reason === null ? null : textInput(reason, 'reason', MAX_REASON);
  return { ...parseLenderFacility(lenderId, facilityId), reason: why };
}
