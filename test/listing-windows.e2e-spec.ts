/**
 * A listing is sold only inside its window `[availableFrom, availableUntil)` (SPEC §4, §6):
 * capacity whose window has not opened is neither sold (purchase, reservation, facility) nor
 * counted in the market figures or quotes; a listing past its window is EXPIRED, sold out or not.
 */
import type { TestApp } from './support/app.js';
import { marketState } from './support/db-probes.js';
import { accept, offerOk } from './support/drivers/facilities.js';
import { allListings, createListing, listingById } from './support/drivers/listings.js';
import { marketStats, purchase, quote } from './support/drivers/market.js';
import { advanceClock, appPerBlock } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { D, expectedStandardUnit, expectedTermDiscount, round6 } from './support/oracles.js';


const RESERVE = `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { id monthsDelivered status } }`;

describe('capacity whose window has not opened (the clock is at 2026-01-05 12:00)', () => {
  const app = appPerBlock();
  let seller: Org;
  let buyer: Org;
  let futureId: string;

  beforeAll(async () => {
    const t = app();
    seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '100000.00');
    // 100 credits open now at 1.50, and 1,000 cheaper credits that open on Feb 1.
    await createListing(t, seller, { gpuHours: '100', wholesalePricePerGpuHour: '1.50' });
    futureId = (await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.00', availableFrom: '2026-02-01T00:00:00Z' })).id;
  });

  it('is not counted in the market figures, and the market price comes from what is open now', async () => {
    expect(await marketStats(app())).toEqual({
      totalCredits: '100.000000',
      allocatedCredits: '0.000000',
      utilization: '0.000000',
      standardPricePerCredit: '1.800000',
    });
  });

  it('is not quoted: a quote over the open capacity is INSUFFICIENT_CAPACITY; within it, priced on the open listing', async () => {
    const t = app();
    expect((await quote(t, { type: 'STANDARD', credits: '101' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'STANDARD', credits: '50' })).data.quote.unitPrice).toBe('1.800000');
    expect((await quote(t, { type: 'FINANCED', credits: '50' })).data.quote.unitPrice).toBe('1.500000');
  });

  it('is not sold to a purchase', async () => {
    const t = app();
    const before = await marketState(t);
    expect((await purchase(t, buyer, '101')).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await marketState(t)).toEqual(before);
    const ok = await purchase(t, buyer, '10');
    expect(ok.errors).toBeUndefined();
    expect(ok.data.purchaseCredits.unitPrice).toBe('1.800000');
    expect((await listingById(t, futureId)).allocatedCredits).toBe('0.000000');
  });

  it('is not sold to a reservation that starts now', async () => {
    const t = app();
    const before = await marketState(t);
    const res = await t.gql(RESERVE, { input: { creditsPerMonth: '200', termMonths: 1, idempotencyKey: 'too-early' } }, buyer.key);
    expect(res.code).toBe('INSUFFICIENT_CAPACITY');
    expect(await marketState(t)).toEqual(before);
  });

  it('is not sold to a facility', async () => {
    const t = app();
    const lender = await register(t, 'LENDER');
    await deposit(t, lender, '100.00');
    // 98.00 at wholesale: the cheaper listing that has not opened must not supply it; the open
    // one at 1.50 does (98 ÷ 1.50, rounded down).
    const borrower = await register(t, 'BUYER');
    const f = await offerOk(t, lender, { borrowerId: borrower.id, principal: '100.00', apr: '0.12', termMonths: 3 });
    const res = await accept(t, borrower.key, f.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.acceptFacility.creditsGranted).toBe('65.333333');
    expect((await listingById(t, futureId)).allocatedCredits).toBe('0.000000');
  });

  it('once its window opens, it is counted and sold', async () => {
    const t = app();
    await advanceClock(t, '2026-02-01T00:00:00.000Z');
    expect((await marketStats(t)).totalCredits).toBe('1100.000000');
    const ok = await purchase(t, buyer, '10');
    expect(ok.errors).toBeUndefined();
    expect((await listingById(t, futureId)).allocatedCredits).toBe('10.000000');
  });
});

describe('past availableUntil a listing is EXPIRED, sold out or not (SPEC §4)', () => {
  const app = appPerBlock();

  it('a listing that sold out and then passed its window shows EXPIRED, is filtered as EXPIRED and is stored EXPIRED by servicing', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const listing = await createListing(t, seller, { gpuHours: '100', wholesalePricePerGpuHour: '1.50', availableUntil: '2026-02-01T00:00:00Z' });
    expect((await purchase(t, buyer, '100')).errors).toBeUndefined();
    expect((await listingById(t, listing.id)).status).toBe('SOLD_OUT');

    await advanceClock(t, '2026-02-01T00:00:00.000Z');
    expect(await listingById(t, listing.id)).toMatchObject({ status: 'EXPIRED', allocatedCredits: '100.000000', availableCredits: '0.000000' });
    expect((await allListings(t, { status: 'EXPIRED' })).map((l) => l.id)).toContain(listing.id);
    expect((await allListings(t, { status: 'SOLD_OUT' })).map((l) => l.id)).not.toContain(listing.id);
    const [row] = await t.db.dataSource.query(`SELECT status FROM listings WHERE id = $1`, [listing.id]);
    expect(row.status).toBe('EXPIRED');

    const res = await t.gql(`mutation($id: ID!) { withdrawListing(id: $id) { status } }`, { id: listing.id }, seller.key);
    expect(res.code).toBe('INVALID_STATE');
  });
});

describe("reservations: each month's credits come from listings whose window covers its delivery (SPEC §6)", () => {
  const app = appPerBlock();

  it('a month no listing covers refuses the reservation with INSUFFICIENT_CAPACITY, changing nothing', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    // 1,000 credits, enough for 50 a month for a year, but the window closes in three weeks:
    // Feb 5 (month 2) is outside it.
    await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.50', availableUntil: '2026-01-26T00:00:00Z' });
    const before = await marketState(t);
    const res = await t.gql(RESERVE, { input: { creditsPerMonth: '50', termMonths: 12, idempotencyKey: 'a-year' } }, buyer.key);
    expect(res.code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'RESERVED', credits: '600', termMonths: 12 })).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await marketState(t)).toEqual(before);
    // One month is delivered now, inside the window: that is fine.
    const one = await t.gql(RESERVE, { input: { creditsPerMonth: '100', termMonths: 1, idempotencyKey: 'a-month' } }, buyer.key);
    expect(one.errors).toBeUndefined();
  });

  it('months are filled from the listings open at their delivery, cheapest first, and each seller is paid only for its months', async () => {
    const t = app();
    const shortSeller = await register(t, 'SELLER');
    const laterSeller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    // The earlier test's listing (1.50, closes Jan 26) still has 900 credits. Cheaper ones:
    const short = await createListing(t, shortSeller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.20', availableUntil: '2026-01-26T00:00:00Z' });
    const later = await createListing(t, laterSeller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.00', availableFrom: '2026-02-01T00:00:00Z' });
    // Jan 5 only `short` (1.20, the cheapest open then) covers; Feb 5 and Mar 5 only `later` does.
    const unit = round6(expectedStandardUnit([['100', '1.20'], ['200', '1.00']], '0').times(D(1).minus(expectedTermDiscount(3))));
    const q = await quote(t, { type: 'RESERVED', credits: '300', termMonths: 3 });
    expect(q.errors).toBeUndefined();
    expect(q.data.quote.unitPrice).toBe(unit.toFixed(6));
    const res = await t.gql(RESERVE, { input: { creditsPerMonth: '100', termMonths: 3, idempotencyKey: 'three' } }, buyer.key);
    expect(res.errors).toBeUndefined();
    expect((await t.gql(`{ reservations { id unitPrice } }`, {}, buyer.key)).data.reservations[0].unitPrice).toBe(unit.toFixed(6));
    expect((await listingById(t, short.id)).allocatedCredits).toBe('100.000000');
    expect((await listingById(t, later.id)).allocatedCredits).toBe('200.000000');
    expect(await walletOf(t, shortSeller)).toBe('120.00');
    expect(await walletOf(t, laterSeller)).toBe('0.00');

    await advanceClock(t, '2026-03-05T12:00:00.000Z');
    expect((await t.gql(`{ reservations { id status monthsDelivered } }`, {}, buyer.key)).data.reservations.find((r: any) => r.id === res.data.reserveCredits.id))
      .toMatchObject({ status: 'COMPLETED', monthsDelivered: 3 });
    // The short listing's seller was paid for the one month its window covered, never after it.
    expect(await walletOf(t, shortSeller)).toBe('120.00');
    expect(await walletOf(t, laterSeller)).toBe('200.00');
  });
});
