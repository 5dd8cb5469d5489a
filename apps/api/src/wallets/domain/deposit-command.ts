import type { Decimal } from '@ccx/core';
import { textInput, usdInput } from '../../common/amounts.js';
import { parseId } from '../../common/ids.js';

export interface RecordDepositCommand {
  organizationId: string;
  /** USD, at most 2 decimals. */
  amount: Decimal;
  /** The payment reference: the deposit's idempotency key. */
  reference: string;
}

/** recordDeposit's input: an unknown organization id is NOT_FOUND, the rest BAD_USER_INPUT. */
export function parseRecordDeposit(input: { organizationId?: unknown; amount?: unknown; reference?: unknown }): RecordDepositCommand {
  return {
    organizationId: parseId(input.organizationId, 'organization'),
    amount: usdInput(input.amount, 'amount'),
    reference: textInput(input.reference, 'reference', 200),
  };
}
