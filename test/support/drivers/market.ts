import type { TestApp } from '../app.js';
import { register, type Org } from './organizations.js';
import { deposit } from './wallets.js';

/** Buying through the API: quotes, standard purchases, reservations and the credits they give. */
export interface PurchaseArgs {
  maxUnitPrice?: string;
  idempotencyKey?: string;
}

/** purchaseCredits as the buyer; the raw response, so tests can assert error codes. */
export function purchase(t: TestApp, buyer: Org, credits: string, args: PurchaseArgs = {}) {
  return t.gql(
    `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id type credits unitPrice totalPrice block { id type status granted remaining unitPrice expiresAt } } }`,
    {
      input: {
        credits,
        idempotencyKey: args.idempotencyKey ?? `buy-${Math.random().toString(36).slice(2)}`,
        ...(args.maxUnitPrice !== undefined ? { maxUnitPrice: args.maxUnitPrice } : {}),
      },
    },
    buyer.key,
  );
}

export interface QuoteArgs {
  type: 'STANDARD' | 'RESERVED' | 'FINANCED';
  credits: unknown;
  termMonths?: unknown;
}

/** quote (public) with the raw response. */
export function quote(t: TestApp, input: QuoteArgs, key: string | null = null) {
  return t.gql(`query($input: QuoteInput!) { quote(input: $input) { type credits unitPrice totalPrice wholesaleCost discountRate } }`, { input }, key);
}

export async function marketStats(t: TestApp): Promise<{ totalCredits: string; allocatedCredits: string; utilization: string; standardPricePerCredit: string | null }> {
  const res = await t.gql(`{ market { totalCredits allocatedCredits utilization standardPricePerCredit } }`);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.market;
}

/** The buyer's credit blocks, as the buyer sees them. */
export async function blocksOf(t: TestApp, buyer: Org): Promise<any[]> {
  const res = await t.gql(`{ creditBalance { available blocks { id type status granted remaining unitPrice expiresAt } } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance.blocks;
}

/** A buyer reserves credits; returns the reservation's id. */
export async function reserve(t: TestApp, buyer: Org, creditsPerMonth: string, termMonths: number, idempotencyKey = `res-${Math.random().toString(36).slice(2)}`): Promise<string> {
  const res = await t.gql(
    `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { id } }`,
    { input: { creditsPerMonth, termMonths, idempotencyKey } },
    buyer.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.reserveCredits.id;
}

/** A buyer's credit balance (available, held, frozen and the number of blocks). */
export async function creditsOf(t: TestApp, buyer: Org): Promise<{ available: string; held: string; frozen: string; blocks: number }> {
  const res = await t.gql(`{ creditBalance { available held frozen blocks { id } } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const b = res.data.creditBalance;
  return { available: b.available, held: b.held, frozen: b.frozen, blocks: b.blocks.length };
}

/** A buyer's credit balance with its blocks. */
export async function creditBalanceOf(t: TestApp, org: Org): Promise<any> {
  const res = await t.gql(
    `{ creditBalance { available held frozen blocks { id type status granted remaining unitPrice expiresAt createdAt } } }`,
    {},
    org.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance;
}

/** A buyer with `deposit` in its wallet and one STANDARD block per entry of `blocks`, in order. */
export async function fundedBuyer(t: TestApp, blocks: string[] = [], money = '100000.00'): Promise<Org> {
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, money);
  for (const credits of blocks) {
    const res = await purchase(t, buyer, credits);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
  }
  return buyer;
}
