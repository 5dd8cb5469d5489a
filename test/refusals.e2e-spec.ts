/**
 * Issue 12 item 11: every refusal says, in the user's terms, what was needed and what was there,
 * with amounts at their scale (USD 2 decimals, credits 6, thousands grouped) — never an internal
 * account name or a bare number like `1833.6`. The early termination fee is visible on the
 * reservation before cancelling, and POST /v1/usage without a JSON content type is 415.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Decimal } from '@ccx/core';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { accept, offerOk, repay } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { purchase, reserve } from './support/drivers/market.js';
import { type Org, register } from './support/drivers/organizations.js';
import { recordUsage, upsertModel } from './support/drivers/usage.js';
import { deposit, walletOf } from './support/drivers/wallets.js';

let t: TestApp;
let seller: Org;

/** What no refusal may show: a ledger account code, a raw ledger phrase, an id. */
const INTERNAL = /wallet:|block:|facility:|platform:|:USD|:CREDIT|cannot cover|account [0-9a-f-]{8}/i;

beforeAll(async () => {
  t = await startTestApp();
  seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.528' });
});
afterAll(async () => {
  await t?.close();
});

const grouped = (amount: string, scale: number) => new Decimal(amount).toFormat(scale);

async function quoteTotal(input: Record<string, unknown>): Promise<string> {
  const res = await t.gql(`query($input: QuoteInput!) { quote(input: $input) { totalPrice unitPrice } }`, { input });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.quote.totalPrice;
}

it('a purchase the wallet cannot pay says what the wallet holds and what the purchase costs', async () => {
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '120.00');
  const total = await quoteTotal({ type: 'STANDARD', credits: '1000' });
  expect(new Decimal(total).gt(1000)).toBe(true);
  const res = await purchase(t, buyer, '1000');
  expect(res.code).toBe('INSUFFICIENT_FUNDS');
  expect(res.errors![0].message).toBe(`the wallet holds 120.00 USD; this purchase costs ${grouped(total, 2)} USD`);
  expect(res.errors![0].message).not.toMatch(INTERNAL);
});

it('a reservation whose first month the wallet cannot pay says so in USD', async () => {
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '15.50');
  const res = await t.gql(`mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { id monthlyCharge } }`, { input: { creditsPerMonth: '100', termMonths: 12, idempotencyKey: 'short-res' } }, buyer.key);
  expect(res.code).toBe('INSUFFICIENT_FUNDS');
  expect(res.errors![0].message).toMatch(/^the wallet holds 15\.50 USD; this reservation's first month costs \d{1,3}(,\d{3})*\.\d{2} USD$/);
});

it('shows the early termination fee before cancelling, and a wallet that cannot pay it is told the fee', async () => {
  const buyer = await register(t, 'BUYER');
  // Exactly the first month: after reserving, the wallet is empty.
  const unit = (await t.gql(`{ quote(input: {type: RESERVED, credits: "12000", termMonths: 12}) { unitPrice } }`)).data.quote.unitPrice;
  const firstMonth = new Decimal(unit).times(1000).decimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
  await deposit(t, buyer, firstMonth);
  const id = await reserve(t, buyer, '1000', 12);
  expect(await walletOf(t, buyer)).toBe('0.00');
  const FIELDS = 'id status monthsDelivered creditsPerMonth unitPrice earlyTerminationFee';
  const [before] = (await t.gql(`{ reservations { ${FIELDS} } }`, {}, buyer.key)).data.reservations;
  // SPEC §6: 25% × undelivered months × creditsPerMonth × unit price, in cents.
  const expected = new Decimal('0.25').times(11).times(before.creditsPerMonth).times(before.unitPrice).decimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
  expect(before).toMatchObject({ id, status: 'ACTIVE', monthsDelivered: 1, unitPrice: unit, earlyTerminationFee: expected });

  const cancel = await t.gql(`mutation($id: ID!) { cancelReservation(id: $id) { ${FIELDS} } }`, { id }, buyer.key);
  expect(cancel.code).toBe('INSUFFICIENT_FUNDS');
  expect(cancel.errors![0].message).toBe(`the wallet holds 0.00 USD; the early termination fee is ${grouped(expected, 2)} USD`);

  // With the money there, cancelling charges exactly the fee it showed.
  await deposit(t, buyer, '10000.00');
  const ok = await t.gql(`mutation($id: ID!) { cancelReservation(id: $id) { ${FIELDS} } }`, { id }, buyer.key);
  expect(ok.errors).toBeUndefined();
  expect(ok.data.cancelReservation).toMatchObject({ status: 'CANCELLED', earlyTerminationFee: expected });
  expect(await walletOf(t, buyer)).toBe(new Decimal('10000.00').minus(expected).toFixed(2));
});

it('a repayment the wallet cannot pay says what the wallet holds and what the repayment is', async () => {
  const lender = await register(t, 'LENDER');
  await deposit(t, lender, '50000.00');
  const borrower = await register(t, 'BUYER');
  const offered = await offerOk(t, lender, { borrowerId: borrower.id, principal: '20000.00', apr: '0.18', termMonths: 12 });
  const accepted = await accept(t, borrower.key, offered.id);
  expect(accepted.errors).toBeUndefined();
  const res = await repay(t, borrower.key, offered.id, '1234.50');
  expect(res.code).toBe('INSUFFICIENT_FUNDS');
  expect(res.errors![0].message).toBe('the wallet holds 0.00 USD; this repayment is 1,234.50 USD');
});

it('usage the credits cannot cover says what the event costs and what is available, in credits at 6 decimals', async () => {
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '100.00');
  const bought = await purchase(t, buyer, '0.25');
  expect(bought.errors).toBeUndefined();
  await upsertModel(t, 'refusal-model', '1500000', '0');
  const res = await recordUsage(t, { organizationId: buyer.id, eventId: 'too-big', model: 'refusal-model', inputTokens: 1000 });
  expect(res.code).toBe('INSUFFICIENT_CREDITS');
  expect(res.errors![0].message).toBe('the buyer has 0.250000 credits available; this event costs 1,500.000000 credits');
});

it('POST /v1/usage without a JSON content type is 415 and says so', async () => {
  const body = JSON.stringify({ events: [{ organizationId: seller.id, eventId: 'x', model: 'refusal-model', inputTokens: 1 }] });
  const server = t.app.getHttpServer() as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    for (const type of [null, 'text/plain', 'application/x-www-form-urlencoded']) {
      // fetch would add text/plain to a string body; no header at all needs it left out by hand.
      const headers: Record<string, string> = { authorization: `Bearer ${OPERATOR_KEY}` };
      if (type) headers['content-type'] = type;
      const res = await fetch(`http://127.0.0.1:${port}/v1/usage`, { method: 'POST', headers, body: new Blob([body]) });
      expect({ type, status: res.status, body: await res.json() }).toEqual({
        type,
        status: 415,
        body: { error: { code: 'BAD_USER_INPUT', message: 'send the body as JSON, with Content-Type: application/json' } },
      });
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
