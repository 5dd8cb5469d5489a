import type { Decimal } from '@ccx/core';
import { creditsInput, priceInput, textInput } from '../../common/amounts.js';

/** A standard purchase as the service takes it: amounts parsed, the key checked. */
export interface PurchaseCommand {
  buyerId: string;
  credits: Decimal;
  /** Refuse above this unit price; null: any price. */
  maxUnitPrice: Decimal | null;
  idempotencyKey: string;
}

/** The purchaseCredits input as it arrives (GraphQL, or a stored auto-refill job). */
export interface PurchaseFields {
  credits: unknown;
  maxUnitPrice?: unknown;
  idempotencyKey: unknown;
}

/**
 * Parses a purchase at the edge. BAD_USER_INPUT names the first bad field, in the order credits,
 * maxUnitPrice, idempotencyKey.
 */
export function parsePurchaseCommand(buyerId: string, input: PurchaseFields): PurchaseCommand {
  const credits = creditsInput(input.credits, 'credits');
  const maxUnitPrice = input.maxUnitPrice === undefined || input.maxUnitPrice === null ? null : priceInput(input.maxUnitPrice, 'maxUnitPrice');
  const idempotencyKey = textInput(input.idempotencyKey, 'idempotencyKey', 200);
  return { buyerId, credits, maxUnitPrice, idempotencyKey };
}
