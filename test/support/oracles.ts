import { Decimal } from '@ccx/core';
import { defaultBusinessRules } from '../../apps/api/src/config/business-rules.js';

/**
 * Expected values the specs compare the server against (SPEC §1, §5, §7, §8), computed here from
 * the formulas — independently of the server's code — and from the business-rule defaults, so a
 * changed default changes one place, not forty literals. Nothing here calls the API or the
 * database (the drivers in ./drivers do).
 */
const RULES = defaultBusinessRules();

export const D = (v: string | number | Decimal) => new Decimal(v);
export const round2 = (v: Decimal) => v.decimalPlaces(2, Decimal.ROUND_HALF_UP);
export const round6 = (v: Decimal) => v.decimalPlaces(6, Decimal.ROUND_HALF_UP);
export const usd = (v: Decimal) => round2(v).toFixed(2);
export const cr = (v: Decimal) => v.toFixed(6);

// ---- pricing (SPEC §5) -----------------------------------------------------------------------

/** The platform's margin (default 0.20) and the standard price's markup over wholesale, 1 + margin. */
export const MARGIN = D(RULES.pricing.margin);
export const MARKUP = D(1).plus(MARGIN);
/** The night discount factor (default 0.90, from 22:00 to 06:00 UTC). */
export const NIGHT_FACTOR = D(RULES.pricing.nightFactor);
/** Utilization above which the demand multiplier rises (default 0.5). */
export const DEMAND_THRESHOLD = D(RULES.pricing.demandThreshold);

/**
 * SPEC §5 standard unit price of a fill given as [credits, wholesaleCostPerCredit] parts:
 * wholesale ÷ q × (1 + margin) × (1 + max(0, u − threshold)) × (night factor at night, else 1),
 * 6 decimals HALF_UP (defaults: margin 0.20, threshold 0.5, night 0.90).
 */
export function expectedStandardUnit(parts: [string | Decimal, string | Decimal][], u: Decimal | string = '0', night = false): Decimal {
  const q = parts.reduce((s, [c]) => s.plus(c), D(0));
  const w = parts.reduce((s, [c, p]) => s.plus(D(c).times(p)), D(0));
  const demand = D(1).plus(Decimal.max(0, D(u).minus(DEMAND_THRESHOLD)));
  return round6(w.div(q).times(MARKUP).times(demand).times(night ? NIGHT_FACTOR : '1'));
}

/** SPEC §5 term discount bands (defaults: 1–2 months 5%, 3–5 10%, 6–11 15%, 12–36 25%). */
export function expectedTermDiscount(termMonths: number): Decimal {
  const band = RULES.pricing.termDiscounts.find((b) => termMonths >= b.minMonths && termMonths <= b.maxMonths);
  return band ? D(band.rate) : D(0);
}

// ---- usage (SPEC §1, §8) ---------------------------------------------------------------------

/** SPEC §1 default GPU catalog (credits per GPU-hour). */
export const GPU_CATALOG: Record<string, string> = { H100: '1.0', H200: '1.4', B200: '2.2', A100: '0.5', L40S: '0.35' };

/** SPEC §8: inputTokens × in ÷ 10^6 + outputTokens × out ÷ 10^6, rounded UP to 6 decimals. */
export function expectedTokenCost(inputTokens: number, outputTokens: number, inPerMillion: string, outPerMillion: string): Decimal {
  return D(inputTokens).times(inPerMillion).plus(D(outputTokens).times(outPerMillion)).div(1_000_000).decimalPlaces(6, Decimal.ROUND_UP);
}

/** SPEC §8: gpuSeconds ÷ 3600 × creditsPerGpuHour, rounded UP to 6 decimals. */
export function expectedGpuCost(gpuSeconds: string, creditsPerGpuHour: string): Decimal {
  // Multiplied first, so the product is exact before the one division (÷ 3600 first would round).
  return D(gpuSeconds).times(creditsPerGpuHour).div(3600).decimalPlaces(6, Decimal.ROUND_UP);
}

/** H100 time (1 credit per GPU-hour) that costs exactly `credits` (whole micro-credits). */
export const h100For = (credits: string | Decimal) => ({ gpuType: 'H100', gpuSeconds: D(credits).times(3600).toFixed() });

/** SPEC §8 default: an authorized usage hold lives this many minutes of business time. */
export const HOLD_MINUTES = RULES.usage.holdMinutes;

// ---- financing (SPEC §7) ---------------------------------------------------------------------

const cents = (v: Decimal) => v.decimalPlaces(2, Decimal.ROUND_HALF_UP);

/** SPEC §7 defaults: grace days, days past due to default, recovery rate, financing fee rate. */
export const FINANCING = {
  graceDays: RULES.financing.graceDays,
  defaultAfterDaysPastDue: RULES.financing.defaultAfterDaysPastDue,
  recoveryRate: RULES.financing.recoveryRate.toFixed(),
  feeRate: RULES.financing.feeRate.toFixed(),
};

/** SPEC §7 financing fee: feeRate (default 2%) of principal, cents HALF_UP. */
export const expectedFee = (principal: string, rate: string = FINANCING.feeRate) => cents(D(principal).times(rate)).toFixed(2);

/** `start` plus `k` months on the start's day of month, clamped to the month's last day (UTC). */
export function monthsAfter(start: Date | string, k: number): Date {
  const s = new Date(start);
  const firstOfTarget = new Date(Date.UTC(s.getUTCFullYear(), s.getUTCMonth() + k, 1));
  const daysInTarget = new Date(Date.UTC(firstOfTarget.getUTCFullYear(), firstOfTarget.getUTCMonth() + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      firstOfTarget.getUTCFullYear(),
      firstOfTarget.getUTCMonth(),
      Math.min(s.getUTCDate(), daysInTarget),
      s.getUTCHours(),
      s.getUTCMinutes(),
      s.getUTCSeconds(),
      s.getUTCMilliseconds(),
    ),
  );
}

export interface ExpectedInstallment {
  number: number;
  dueDate: string;
  payment: string;
  principal: string;
  interest: string;
}

/**
 * SPEC §7: r = apr ÷ 12; A = P·r ÷ (1 − (1+r)^−n) in cents; interest = opening balance × r in
 * cents HALF_UP; principal part = A − interest; the last installment pays the remaining principal
 * plus its interest. (1+r)^n is exact here (a whole power of a terminating decimal).
 */
export function expectedSchedule(principal: string, apr: string, n: number, start: Date | string): ExpectedInstallment[] {
  const P = D(principal);
  const r = D(apr).div(12);
  const A = r.isZero() ? cents(P.div(n)) : cents(P.times(r).times(D(1).plus(r).pow(n)).div(D(1).plus(r).pow(n).minus(1)));
  const out: ExpectedInstallment[] = [];
  let balance = P;
  for (let k = 1; k <= n; k++) {
    const interest = cents(balance.times(D(apr)).div(12));
    const principalPart = k === n ? balance : A.minus(interest);
    balance = balance.minus(principalPart);
    out.push({
      number: k,
      dueDate: monthsAfter(start, k).toISOString(),
      payment: principalPart.plus(interest).toFixed(2),
      principal: principalPart.toFixed(2),
      interest: interest.toFixed(2),
    });
  }
  return out;
}

export const sum = (values: (string | Decimal)[]) => values.reduce<Decimal>((s, v) => s.plus(v), D(0));
export const sumOf = (schedule: ExpectedInstallment[], field: 'payment' | 'principal' | 'interest', from = 1, to = schedule.length) =>
  sum(schedule.filter((i) => i.number >= from && i.number <= to).map((i) => i[field])).toFixed(2);

/**
 * The Regulation Z (Appendix J actuarial) APR of payments k = 1..n falling on monthly
 * anniversaries of the advance: solve amountFinanced = Σ payment_k ÷ (1+i)^k for the monthly
 * rate i by bisection; APR = 12·i to 4 decimals HALF_UP. Both ends of the final bracket must
 * give the same 4 decimals.
 */
export function expectedDisclosedApr(amountFinanced: string, payments: string[]): string {
  const target = D(amountFinanced);
  const pv = (i: Decimal) => {
    let factor = D(1);
    let total = D(0);
    const step = D(1).div(D(1).plus(i));
    for (const p of payments) {
      factor = factor.times(step).decimalPlaces(40);
      total = total.plus(D(p).times(factor));
    }
    return total;
  };
  let low = D(0);
  let high = D('0.5');
  for (let k = 0; k < 120; k++) {
    const mid = low.plus(high).div(2).decimalPlaces(40);
    if (pv(mid).gt(target)) low = mid;
    else high = mid;
  }
  const annual = (i: Decimal) => i.times(12).decimalPlaces(4, Decimal.ROUND_HALF_UP).toFixed(4);
  expect(annual(low)).toBe(annual(high));
  return annual(low);
}

/** Whole 24-hour days from `from` to `to`. */
export const wholeDays = (from: Date | string, to: Date | string) => Math.floor((new Date(to).getTime() - new Date(from).getTime()) / 86_400_000);
export const plusDays = (at: Date | string, days: number) => new Date(new Date(at).getTime() + days * 86_400_000).toISOString();
