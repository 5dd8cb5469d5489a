import { OPERATOR_KEY, startTestApp, type GqlResponse, type TestApp } from '../app.js';
import { createListing } from './listings.js';
import { register, type Org } from './organizations.js';
import { deposit } from './wallets.js';

/** Credit facilities through the API (SPEC §7): offers, acceptance, repayments, freezes, recovery. */
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
