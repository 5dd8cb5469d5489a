import { Decimal } from '@ccx/core';
import { blockAccountCode, facilityDebtAccountCode, facilityReceivableAccountCode, platformAccountCode } from '../../apps/api/src/ledger/chart-of-accounts.js';
import { OPERATOR_KEY, type GqlResponse, type TestApp } from './app.js';
import { startTestApp } from './app.js';
import { createListing, deposit, ledgerBalance, marketState, register, type Org } from './market.js';

/**
 * Helpers for the financing specs (SPEC §7): the facility operations through the public GraphQL
 * API, and the expected figures computed here from SPEC's formulas — independently of
 * libs/finance, which the specs use only as a cross-check.
 */

export const FACILITY_FIELDS = `id status principal apr termMonths graceDays defaultAfterDaysPastDue recoveryRate financingFee
  disclosedApr totalInterest creditsGranted outstandingPrincipal pastDueAmount payoffAmount daysPastDue frozen recoveredAmount
  chargedOffAmount acceptedAt maturityAt createdAt lender { id } borrower { id }
  creditBlock { id type status granted remaining unitPrice expiresAt facilityId }
  schedule { number dueDate payment principal interest principalPaid interestPaid status }
  freezeEvents { action actorId reason at }`;

export interface OfferInput {
  borrowerId: string;
  principal: string;
  apr: string;
  termMonths: number;
  graceDays?: number | null;
  defaultAfterDaysPastDue?: number | null;
  recoveryRate?: string | null;
}

const ok = <T>(res: GqlResponse, field: string): T => {
  if (res.errors) throw new Error(`${field}: ${JSON.stringify(res.errors)}`);
  return res.data[field];
};

export const offer = (t: TestApp, lender: Org | string, input: OfferInput) =>
  t.gql(`mutation($input: OfferFacilityInput!) { offerFacility(input: $input) { ${FACILITY_FIELDS} } }`, { input }, typeof lender === 'string' ? lender : lender.key);
export const offerOk = async (t: TestApp, lender: Org, input: OfferInput): Promise<any> => ok(await offer(t, lender, input), 'offerFacility');

export const accept = (t: TestApp, key: string, id: string) => t.gql(`mutation($id: ID!) { acceptFacility(id: $id) { ${FACILITY_FIELDS} } }`, { id }, key);
export const acceptOk = async (t: TestApp, buyer: Org, id: string): Promise<any> => ok(await accept(t, buyer.key, id), 'acceptFacility');

export const decline = (t: TestApp, key: string, id: string) => t.gql(`mutation($id: ID!) { declineFacility(id: $id) { ${FACILITY_FIELDS} } }`, { id }, key);

export const repay = (t: TestApp, key: string, facilityId: string, amount: string, idempotencyKey = `pay-${Math.random().toString(36).slice(2)}`) =>
  t.gql(
    `mutation($input: RepayFacilityInput!) { repayFacility(input: $input) { id amount interestPaid principalPaid createdAt facility { ${FACILITY_FIELDS} } } }`,
    { input: { facilityId, amount, idempotencyKey } },
    key,
  );
export const repayOk = async (t: TestApp, buyer: Org, facilityId: string, amount: string, idempotencyKey?: string): Promise<any> =>
  ok(await repay(t, buyer.key, facilityId, amount, idempotencyKey), 'repayFacility');

export const freeze = (t: TestApp, key: string, id: string, reason: string) =>
  t.gql(`mutation($id: ID!, $reason: String!) { freezeFacilityCredits(id: $id, reason: $reason) { ${FACILITY_FIELDS} } }`, { id, reason }, key);
export const unfreeze = (t: TestApp, key: string, id: string, reason?: string) =>
  reason === undefined
    ? t.gql(`mutation($id: ID!) { unfreezeFacilityCredits(id: $id) { ${FACILITY_FIELDS} } }`, { id }, key)
    : t.gql(`mutation($id: ID!, $reason: String) { unfreezeFacilityCredits(id: $id, reason: $reason) { ${FACILITY_FIELDS} } }`, { id, reason }, key);
export const recover = (t: TestApp, key: string, id: string) =>
  t.gql(
    `mutation($id: ID!) { recoverFrozenCredits(id: $id) { id creditsRecovered amountRecovered surplus chargedOffAmount facility { ${FACILITY_FIELDS} } } }`,
    { id },
    key,
  );

/** `facility(id)` as `key` sees it (null when it is not theirs). */
export async function facilityAs(t: TestApp, key: string, id: string): Promise<any> {
  const res = await t.gql(`query($id: ID!) { facility(id: $id) { ${FACILITY_FIELDS} } }`, { id }, key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.facility;
}
export const facilityOf = (t: TestApp, id: string) => facilityAs(t, OPERATOR_KEY, id);

export async function facilitiesAs(t: TestApp, key: string): Promise<any[]> {
  const res = await t.gql(`{ facilities { id status lender { id } borrower { id } } }`, {}, key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.facilities;
}

/** Moves the test clock (operator) and so runs servicing up to `to`. */
export async function clockTo(t: TestApp, to: string): Promise<void> {
  const res = await t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  expect(res.data.advanceTestClock).toBe(new Date(to).toISOString());
}

// ---- ledger reads ----------------------------------------------------------------------------

export const receivableCode = facilityReceivableAccountCode;
export const debtCode = facilityDebtAccountCode;
export const blockCode = blockAccountCode;
export const TREASURY = platformAccountCode('treasury');
export const INVENTORY = platformAccountCode('inventory');

/** The facility's ledger pair: the receivable equals the outstanding principal, the debt its negative. */
export async function facilityLedger(t: TestApp, facilityId: string): Promise<{ receivable: string; debt: string }> {
  return {
    receivable: (await ledgerBalance(t, receivableCode(facilityId))).toFixed(2),
    debt: (await ledgerBalance(t, debtCode(facilityId))).toFixed(2),
  };
}

/** marketState plus every financing table: what a refused request must leave untouched. */
export async function financingState(t: TestApp): Promise<Record<string, unknown>> {
  const q = (sql: string) => t.db.dataSource.query(sql);
  return {
    market: await marketState(t),
    facilities: await q(
      `SELECT id, status, accepted_at, block_id, default_sticky, recovered_amount::text, charged_off_amount::text FROM facilities ORDER BY id`,
    ),
    installments: await q(`SELECT facility_id, number, principal_paid::text, interest_paid::text FROM installments ORDER BY facility_id, number`),
    repayments: await q(`SELECT id FROM repayments ORDER BY id`),
    recoveries: await q(`SELECT id FROM recoveries ORDER BY id`),
    freezeEvents: await q(`SELECT id FROM freeze_events ORDER BY id`),
  };
}

export async function count(t: TestApp, table: string, where = 'true', params: unknown[] = []): Promise<number> {
  const [row] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params);
  return row.n;
}

// ---- expected figures (SPEC §7), computed here -----------------------------------------------

const D = (v: string | number | Decimal) => new Decimal(v);
const cents = (v: Decimal) => v.decimalPlaces(2, Decimal.ROUND_HALF_UP);

/** SPEC §7 financing fee: 2% (or `rate`) of principal, cents HALF_UP. */
export const expectedFee = (principal: string, rate = '0.02') => cents(D(principal).times(rate)).toFixed(2);

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

// ---- a small world ---------------------------------------------------------------------------

export interface FinancingWorld {
  t: TestApp;
  seller: Org;
  lender: Org;
  otherLender: Org;
  buyer: Org;
}

/**
 * A fresh app with one deep listing at 1.50 per credit (so `purchase ÷ 1.50` credits, rounded
 * down, for any facility), a lender and a buyer with 1,000,000.00 each, and a second lender.
 */
export async function financingWorld(env: Record<string, string> = {}): Promise<FinancingWorld> {
  const t = await startTestApp(env);
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
  const lender = await register(t, 'LENDER');
  await deposit(t, lender, '1000000.00');
  const otherLender = await register(t, 'LENDER');
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '1000000.00');
  return { t, seller, lender, otherLender, buyer };
}

/** The world's lender offers `terms` to `borrower` (default: the world's buyer), who accepts. */
export async function openFacility(w: FinancingWorld, terms: Omit<OfferInput, 'borrowerId'>, borrower = w.buyer): Promise<any> {
  const f = await offerOk(w.t, w.lender, { borrowerId: borrower.id, ...terms });
  return acceptOk(w.t, borrower, f.id);
}
