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
    // Multiply first: ÷ 3600 first rounds at Decimal's 30th place, and rounding UP then charged
    // 13,459.2 s at 32.25/h (exactly 120.572) as 120.572001.
    return roundCreditsCharged(quantity.gpuSeconds.times(rate.creditsPerGpuHour).div(HOUR));
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

/*
 * The hot path in micro-credits (10⁻⁶ credit, the scale every charge is rounded to) as BigInt:
 * exact like Decimal, and a fraction of its cost per event. `eventCost`/`drawCredits` above stay
 * the rules' reference; the spec checks these against them.
 */

const MICRO = 1_000_000n;

/** A credit amount as whole micro-credits, rounded down (an available balance is never overstated). */
export function toMicro(value: Decimal): bigint {
  return BigInt(value.shiftedBy(6).integerValue(Decimal.ROUND_DOWN).toFixed());
}

/** Micro-credits as the API writes credits: "12.345678". */
export function microText(micro: bigint): string {
  const sign = micro < 0n ? '-' : '';
  const abs = micro < 0n ? -micro : micro;
  return `${sign}${abs / MICRO}.${(abs % MICRO).toString().padStart(6, '0')}`;
}

/** A rate as an integer over a power of ten: value = numerator / 10^scale. */
function scaled(value: Decimal): { n: bigint; scale: number } {
  const scale = Math.max(value.decimalPlaces() ?? 0, 0);
  return { n: BigInt(value.shiftedBy(scale).toFixed()), scale };
}

/** A rate prepared for `eventCostMicro` (once per rate card per charge). */
export type MicroRate =
  | { kind: 'tokens'; input: bigint; output: bigint; divisor: bigint }
  | { kind: 'gpu'; perHour: bigint; divisor: bigint };

export function microRate(rate: Rate): MicroRate {
  if (rate.kind === 'tokens') {
    const i = scaled(rate.inputPerMillion);
    const o = scaled(rate.outputPerMillion);
    const s = Math.max(i.scale, o.scale);
    // micro = (in × rateIn + out × rateOut) credits per million tokens = that sum / 10^s.
    return { kind: 'tokens', input: i.n * 10n ** BigInt(s - i.scale), output: o.n * 10n ** BigInt(s - o.scale), divisor: 10n ** BigInt(s) };
  }
  const r = scaled(rate.creditsPerGpuHour);
  // micro = gpuSeconds × 10⁶ × perHour / 3600 / 10^scale (gpuSeconds has at most 6 decimals).
  return { kind: 'gpu', perHour: r.n, divisor: 3600n * 10n ** BigInt(r.scale) };
}

/** `eventCost` in micro-credits: the same rule, rounded up, exact. */
export function eventCostMicro(quantity: Quantity, rate: MicroRate): bigint {
  let numerator: bigint;
  if (quantity.kind === 'tokens' && rate.kind === 'tokens') {
    numerator = BigInt(quantity.inputTokens) * rate.input + BigInt(quantity.outputTokens) * rate.output;
  } else if (quantity.kind === 'gpu' && rate.kind === 'gpu') {
    numerator = BigInt(quantity.gpuSeconds.shiftedBy(6).toFixed()) * rate.perHour;
  } else {
    throw new Error('rate does not match the quantity');
  }
  return (numerator + rate.divisor - 1n) / rate.divisor;
}

/**
 * One buyer's burn-down over a charge, in micro-credits: `drawCredits` with a running total and
 * a cursor past the emptied blocks, so an event costs O(blocks it draws from), not O(all blocks)
 * (a buyer who bought often has a thousand active blocks). `writeBack` sets each block's Decimal
 * `available` to what is left.
 */
export class MicroBurnDown {
  private readonly left: bigint[];
  /** `left` at the last writeBack. */
  private start: bigint[];
  private first = 0;
  /** Micro-credits left across all blocks. */
  available: bigint;

  constructor(private readonly ordered: SpendableBlock[]) {
    this.left = ordered.map((b) => (b.available.gt(0) ? toMicro(b.available) : 0n));
    this.start = [...this.left];
    // As drawCredits: a block below zero (more held than posted) counts against the total, and
    // is never drawn from.
    this.available = ordered.reduce((s, b) => s + (b.available.gt(0) ? 0n : toMicro(b.available)), 0n) + this.left.reduce((s, v) => s + v, 0n);
  }

  /** Takes `cost` (> 0) from the blocks in order, all or nothing: the draws, or null. */
  draw(cost: bigint): { accountId: string; micro: bigint }[] | null {
    if (cost > this.available) return null;
    const draws: { accountId: string; micro: bigint }[] = [];
    let rest = cost;
    for (let i = this.first; rest > 0n; i++) {
      const has = this.left[i];
      if (has === 0n) {
        if (i === this.first) this.first++;
        continue;
      }
      const take = has < rest ? has : rest;
      draws.push({ accountId: this.ordered[i].accountId, micro: take });
      this.left[i] = has - take;
      rest -= take;
      if (this.left[i] === 0n && i === this.first) this.first++;
    }
    this.available -= cost;
    return draws;
  }

  /** Lowers each block's `available` by what was drawn from it (a Decimal, exact). */
  writeBack(): void {
    this.ordered.forEach((b, i) => {
      const drawn = this.start[i] - this.left[i];
      if (drawn > 0n) b.available = b.available.minus(microText(drawn));
    });
    this.start = [...this.left];
  }
}
