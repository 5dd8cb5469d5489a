import type { Decimal } from '@ccx/core';
import { textInput, usdInput } from '../../common/amounts.js';
import { parseId } from '../../common/ids.js';
import type { PayoutEvent } from './payout-rules.js';

export interface RequestPayoutCommand {
  organizationId: string;
  /** USD, more than 0, at most 2 decimals. */
  amount: Decimal;
  idempotencyKey: string;
}

/** The operator's decision on one payout. */
export interface PayoutDecisionCommand {
  payoutId: string;
  event: PayoutEvent;
}

export function parseRequestPayout(organizationId: string, input: { amount?: unknown; idempotencyKey?: unknown }): RequestPayoutCommand {
  return { organizationId, amount: usdInput(input.amount, 'amount'), idempotencyKey: textInput(input.idempotencyKey, 'idempotencyKey', 200) };
}

// The text is checked before the id: the order the refusals have always come in.
export function parseMarkPayoutPaid(id: unknown, reference: unknown): PayoutDecisionCommand {
  const text = textInput(reference, 'reference', 200);
  return { payoutId: parseId(id, 'payout'), event: { type: 'MARK_PAID', reference: text } };
}

export function parseRejectPayout(id: unknown, reason: unknown): PayoutDecisionCommand {
  const text = textInput(reason, 'reason', 500);
  return { payoutId: parseId(id, 'payout'), event: { type: 'REJECT', reason: text } };
}
