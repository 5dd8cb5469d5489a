import { Decimal, roundUsd } from '@ccx/core';
import type { Posting } from '@ccx/ledger';

/** Credits delivered from one allocation, and the seller wallet that is paid for them. */
export interface DeliveredPart {
  sourceAccountId: string;
  credits: Decimal;
  costPerCredit: Decimal;
  sellerWalletId: string;
}

export interface DeliveryPostingsInput {
  payerAccountId: string;
  /** What the payer is charged (cents). */
  charge: Decimal;
  revenueAccountId: string;
  blockAccountId: string;
  parts: DeliveredPart[];
}

/**
 * The postings of one delivery (SPEC §4, §6): the payer pays `charge`; each seller is paid its
 * delivered credits × wholesale cost (cents HALF_UP, per allocation); the platform keeps the
 * difference (or, rarely — a deep reserved discount at night — covers it: the revenue account has
 * no limit). The credits move from the allocations' accounts into the block's account.
 */
export function deliveryPostings(input: DeliveryPostingsInput): Posting[] {
  const postings: Posting[] = [];
  const payouts = new Map<string, Decimal>();
  const sources = new Map<string, Decimal>();
  let credits = new Decimal(0);
  for (const part of input.parts) {
    const pay = sellerPayout(part.credits, part.costPerCredit);
    payouts.set(part.sellerWalletId, (payouts.get(part.sellerWalletId) ?? new Decimal(0)).plus(pay));
    sources.set(part.sourceAccountId, (sources.get(part.sourceAccountId) ?? new Decimal(0)).plus(part.credits));
    credits = credits.plus(part.credits);
  }
  let paidOut = new Decimal(0);
  if (input.charge.gt(0)) postings.push({ accountId: input.payerAccountId, direction: 'DEBIT', amount: input.charge });
  for (const [wallet, pay] of payouts) {
    if (pay.gt(0)) postings.push({ accountId: wallet, direction: 'CREDIT', amount: pay });
    paidOut = paidOut.plus(pay);
  }
  const margin = input.charge.minus(paidOut);
  if (margin.gt(0)) postings.push({ accountId: input.revenueAccountId, direction: 'CREDIT', amount: margin });
  if (margin.lt(0)) postings.push({ accountId: input.revenueAccountId, direction: 'DEBIT', amount: margin.negated() });
  for (const [account, amount] of sources) postings.push({ accountId: account, direction: 'DEBIT', amount });
  postings.push({ accountId: input.blockAccountId, direction: 'CREDIT', amount: credits });
  return postings;
}

/** What a seller is paid for delivered credits: credits × wholesale cost per credit, cents HALF_UP. */
export function sellerPayout(credits: Decimal, costPerCredit: Decimal): Decimal {
  return roundUsd(credits.times(costPerCredit));
}
