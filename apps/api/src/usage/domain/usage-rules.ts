import { Decimal, roundCreditsCharged } from '@ccx/core';

/** What an event used: tokens of a model, or GPU time of a type. */
export type Quantity =
  | { kind: 'tokens'; model: string; inputTokens: number; outputTokens: number }
  | { kind: 'gpu'; gpuType: string; gpuSeconds: Decimal };

/** The rate an event is charged at — stored on the event, so later rate changes never alter it. */
export type Rate =
  | { kind: 'tokens'; inputPerMillion: Decimal; outputPerMillion: Decimal }
  | { kind: 'gpu'; creditsPerGpuHour: Decimal };

const MILLION = new Decimal(1_000_000);
const HOUR = new Decimal(3600);

/**
 * The cost of an event in credits (SPEC §8): inputTokens × in ÷ 10^6 + outputTokens × out ÷ 10^6,
 * or gpuSeconds ÷ 3600 × creditsPerGpuHour — rounded UP to micro-credits, so a tiny call never
 * costs zero (a call with nothing billable is refused by the caller).
 */
export function eventCost(quantity: Quantity, rate: Rate): Decimal {
  if (quantity.kind === 'tokens' && rate.kind === 'tokens') {
    return roundCreditsCharged(
      new Decimal(quantity.inputTokens).times(rate.inputPerMillion).plus(new Decimal(quantity.outputTokens).times(rate.outputPerMillion)).div(MILLION),
    );
  }
  if (quantity.kind === 'gpu' && rate.kind === 'gpu') {
    return roundCreditsCharged(quantity.gpuSeconds.div(HOUR).times(rate.creditsPerGpuHour));
  }
  throw new Error('rate does not match the quantity');
}

/** A block as the burn-down sees it. */
export interface SpendableBlock {
  blockId: string;
  accountId: string;
  expiresAt: Date | null;
  createdAt: Date;
  /** remaining − open holds */
  available: Decimal;
}

/** SPEC §6: ACTIVE blocks by expiresAt ascending (no expiry last), then createdAt, then id. */
export function burnDownOrder(blocks: SpendableBlock[]): SpendableBlock[] {
  return [...blocks].sort((a, b) => {
    const ea = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
    const eb = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
    if (ea !== eb) return ea < eb ? -1 : 1;
    if (a.createdAt.getTime() !== b.createdAt.getTime()) return a.createdAt.getTime() - b.createdAt.getTime();
    return a.blockId < b.blockId ? -1 : a.blockId > b.blockId ? 1 : 0;
  });
}

export interface Draw {
  blockId: string;
  accountId: string;
  credits: Decimal;
}

/**
 * Takes `cost` from `ordered` blocks (already in burn-down order), all or nothing. Returns the
 * draws and lowers each block's `available` in place, or returns null and changes nothing.
 */
export function drawCredits(ordered: SpendableBlock[], cost: Decimal): Draw[] | null {
  const total = ordered.reduce((s, b) => s.plus(b.available), new Decimal(0));
  if (total.lt(cost)) return null;
  const draws: Draw[] = [];
  let left = cost;
  for (const b of ordered) {
    if (left.isZero()) break;
    const take = Decimal.min(b.available, left);
    if (!take.gt(0)) continue;
    draws.push({ blockId: b.blockId, accountId: b.accountId, credits: take });
    b.available = b.available.minus(take);
    left = left.minus(take);
  }
  return draws;
}
