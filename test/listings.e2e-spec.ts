import { randomUUID } from 'node:crypto';
import { Decimal } from '@ccx/core';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { allListings, createListing, LISTING_FIELDS, listingById, listingCount } from './support/drivers/listings.js';
import { blocksOf, marketStats, purchase, quote } from './support/drivers/market.js';
import { advanceClock, integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { DEMAND_THRESHOLD, MARKUP } from './support/oracles.js';

/**
 * Supply (SPEC §4): creating, validating, withdrawing, expiring and paging listings, and the
 * guarantee that two buyers are never allocated the same capacity.
 */

const CREATE = `mutation($input: CreateListingInput!) { createListing(input: $input) { ${LISTING_FIELDS} } }`;
const WITHDRAW = `mutation($id: ID!) { withdrawListing(id: $id) { ${LISTING_FIELDS} } }`;

const validInput = (over: Record<string, unknown> = {}) => ({
  gpuType: 'H100',
  region: 'us-east',
  gpuHours: '10',
  wholesalePricePerGpuHour: '1.50',
  availableFrom: '2026-01-01T00:00:00Z',
  availableUntil: '2027-01-01T00:00:00Z',
  ...over,
});

const credits6 = (d: Decimal) => d.toFixed(6);
/** SPEC §4: totalCredits = gpuHours × creditsPerGpuHour (micro-credits). */
const expectedTotal = (gpuHours: string, perHour: string) => new Decimal(gpuHours).times(perHour).decimalPlaces(6, Decimal.ROUND_DOWN);
/** SPEC §4: wholesaleCostPerCredit = price ÷ creditsPerGpuHour, 6 decimals HALF_UP. */
const expectedCost = (price: string, perHour: string) => new Decimal(price).div(perHour).decimalPlaces(6, Decimal.ROUND_HALF_UP);

async function catalog(t: TestApp): Promise<Map<string, string>> {
  const res = await t.gql(`{ gpuTypes { name creditsPerGpuHour } }`);
  expect(res.errors).toBeUndefined();
  return new Map(res.data.gpuTypes.map((g: any) => [g.name, g.creditsPerGpuHour]));
}

describe('createListing and withdrawListing (one shared market)', () => {
  let t: TestApp;
  let seller: Org;
  let otherSeller: Org;
  let perHour: Map<string, string>;

  beforeAll(async () => {
    t = await startTestApp();
    seller = await register(t, 'SELLER', 'Acme GPUs');
    otherSeller = await register(t, 'SELLER', 'Other GPUs');
    perHour = await catalog(t);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('createListing figures', () => {
    it('the default catalog holds the SPEC §1 figures', () => {
      const figures = Object.fromEntries([...perHour].map(([name, v]) => [name, new Decimal(v).toFixed()]));
      expect(figures).toMatchObject({ H100: '1', H200: '1.4', B200: '2.2', A100: '0.5', L40S: '0.35' });
    });

    it.each([
      // gpuType, gpuHours, price, SPEC-derived literal total, literal cost
      ['A100', '100', '0.70', '50.000000', '1.400000'],
      ['L40S', '3', '1.00', '1.050000', '2.857143'],
      ['H100', '12.5', '1.50', '12.500000', '1.500000'],
      ['H200', '0.01', '3.333333', '0.014000', '2.380952'],
      ['B200', '7.77', '4.10', '17.094000', '1.863636'],
    ])('%s: %s GPU-hours at %s → totalCredits %s, wholesaleCostPerCredit %s', async (gpuType, gpuHours, price, total, cost) => {
      const before = await listingCount(t);
      const res = await t.gql(CREATE, { input: validInput({ gpuType, gpuHours, wholesalePricePerGpuHour: price, region: 'eu-west' }) }, seller.key);
      expect(res.errors).toBeUndefined();
      const l = res.data.createListing;
      // The literal figures agree with an independent computation from the public catalog.
      expect(credits6(expectedTotal(gpuHours, perHour.get(gpuType)!))).toBe(total);
      expect(credits6(expectedCost(price, perHour.get(gpuType)!))).toBe(cost);
      expect(l).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        seller: { id: seller.id, name: 'Acme GPUs', role: 'SELLER' },
        gpuType,
        region: 'eu-west',
        gpuHours: expect.any(String),
        wholesalePricePerGpuHour: expect.any(String),
        wholesaleCostPerCredit: cost,
        totalCredits: total,
        allocatedCredits: '0.000000',
        availableCredits: total,
        availableFrom: '2026-01-01T00:00:00.000Z',
        availableUntil: '2027-01-01T00:00:00.000Z',
        status: 'OPEN',
        createdAt: CLOCK_START,
      });
      expect(new Decimal(l.gpuHours).eq(gpuHours)).toBe(true);
      expect(new Decimal(l.wholesalePricePerGpuHour).eq(price)).toBe(true);
      expect(await listingCount(t)).toBe(before + 1);
      // The connection shows the same listing.
      expect(await listingById(t, l.id)).toEqual(l);
    });

    it('a region is trimmed and stored; the listing is on the market at once', async () => {
      const marketBefore = await marketStats(t);
      const res = await t.gql(CREATE, { input: validInput({ region: '  ap-south  ', gpuHours: '4' }) }, seller.key);
      expect(res.errors).toBeUndefined();
      expect(res.data.createListing.region).toBe('ap-south');
      const marketAfter = await marketStats(t);
      expect(new Decimal(marketAfter.totalCredits).minus(marketBefore.totalCredits).toFixed(6)).toBe('4.000000');
    });

    it('uses a GPU type the operator added, at the figure it had when listed', async () => {
      const up = await t.gql(`mutation { upsertGpuType(input: { name: "MI300X", creditsPerGpuHour: "1.3" }) { name creditsPerGpuHour } }`, {}, OPERATOR_KEY);
      expect(up.errors).toBeUndefined();
      const l = await createListing(t, seller, { gpuType: 'MI300X', gpuHours: '10', wholesalePricePerGpuHour: '2.00' });
      expect(l).toMatchObject({ totalCredits: '13.000000', wholesaleCostPerCredit: credits6(expectedCost('2.00', '1.3')), status: 'OPEN' });
      expect(l.wholesaleCostPerCredit).toBe('1.538462');
      // A later catalog change does not alter an existing listing.
      const again = await t.gql(`mutation { upsertGpuType(input: { name: "MI300X", creditsPerGpuHour: "2" }) { name } }`, {}, OPERATOR_KEY);
      expect(again.errors).toBeUndefined();
      expect(await listingById(t, l.id)).toMatchObject({ totalCredits: '13.000000', wholesaleCostPerCredit: '1.538462' });
    });

    it('totalCredits beyond micro-credits is rounded down: never more credits than the hours are worth', async () => {
      const up = await t.gql(`mutation { upsertGpuType(input: { name: "ODD", creditsPerGpuHour: "1.333333" }) { name } }`, {}, OPERATOR_KEY);
      expect(up.errors).toBeUndefined();
      // 0.03 × 1.333333 = 0.03999999 → 0.039999.
      const l = await createListing(t, seller, { gpuType: 'ODD', gpuHours: '0.03', wholesalePricePerGpuHour: '1.00' });
      expect(l.totalCredits).toBe(credits6(expectedTotal('0.03', '1.333333')));
      expect(l.totalCredits).toBe('0.039999');
      expect(l.wholesaleCostPerCredit).toBe(credits6(expectedCost('1.00', '1.333333')));
      expect(l.wholesaleCostPerCredit).toBe('0.750000');
    });

    it('only an approved seller can list: buyers and lenders are FORBIDDEN, anonymous callers UNAUTHENTICATED, a pending seller FORBIDDEN', async () => {
      const before = await listingCount(t);
      const buyer = await register(t, 'BUYER');
      const lender = await register(t, 'LENDER');
      expect((await t.gql(CREATE, { input: validInput() }, buyer.key)).code).toBe('FORBIDDEN');
      expect((await t.gql(CREATE, { input: validInput() }, lender.key)).code).toBe('FORBIDDEN');
      expect((await t.gql(CREATE, { input: validInput() })).code).toBe('UNAUTHENTICATED');
      const pending = await t.gql(
        `mutation { registerOrganization(input: { name: "pending-seller", role: SELLER }) { apiKey organization { status } } }`,
      );
      expect(pending.data.registerOrganization.organization.status).toBe('PENDING');
      expect((await t.gql(CREATE, { input: validInput() }, pending.data.registerOrganization.apiKey)).code).toBe('FORBIDDEN');
      expect(await listingCount(t)).toBe(before);
    });
  });

  describe('createListing rejects bad input and creates nothing', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['gpuHours "0"', 'BAD_USER_INPUT', { gpuHours: '0' }],
      ['gpuHours "-5"', 'BAD_USER_INPUT', { gpuHours: '-5' }],
      ['gpuHours "1.001" (more than 2 decimals)', 'BAD_USER_INPUT', { gpuHours: '1.001' }],
      ['gpuHours "1e3"', 'BAD_USER_INPUT', { gpuHours: '1e3' }],
      ['gpuHours "abc"', 'BAD_USER_INPUT', { gpuHours: 'abc' }],
      ['gpuHours "NaN"', 'BAD_USER_INPUT', { gpuHours: 'NaN' }],
      ['gpuHours "Infinity"', 'BAD_USER_INPUT', { gpuHours: 'Infinity' }],
      ['gpuHours ""', 'BAD_USER_INPUT', { gpuHours: '' }],
      ['gpuHours a JSON number', 'BAD_USER_INPUT', { gpuHours: 100 }],
      ['wholesalePricePerGpuHour "0"', 'BAD_USER_INPUT', { wholesalePricePerGpuHour: '0' }],
      ['wholesalePricePerGpuHour "-1"', 'BAD_USER_INPUT', { wholesalePricePerGpuHour: '-1' }],
      ['wholesalePricePerGpuHour with 7 decimals', 'BAD_USER_INPUT', { wholesalePricePerGpuHour: '1.2345678' }],
      ['wholesalePricePerGpuHour a JSON number', 'BAD_USER_INPUT', { wholesalePricePerGpuHour: 1.5 }],
      ['availableUntil equal to availableFrom', 'BAD_USER_INPUT', { availableFrom: '2026-03-01T00:00:00Z', availableUntil: '2026-03-01T00:00:00Z' }],
      ['availableUntil before availableFrom', 'BAD_USER_INPUT', { availableFrom: '2026-03-01T00:00:00Z', availableUntil: '2026-02-01T00:00:00Z' }],
      ['availableUntil in the past', 'BAD_USER_INPUT', { availableFrom: '2025-01-01T00:00:00Z', availableUntil: '2026-01-01T00:00:00Z' }],
      ['availableUntil exactly now', 'BAD_USER_INPUT', { availableFrom: '2026-01-01T00:00:00Z', availableUntil: CLOCK_START }],
      ['availableUntil not a date', 'BAD_USER_INPUT', { availableUntil: 'next year' }],
      ['an unknown gpuType', 'NOT_FOUND', { gpuType: 'Z9000' }],
      ['an empty region', 'BAD_USER_INPUT', { region: '' }],
      ['a blank region', 'BAD_USER_INPUT', { region: '   ' }],
      ['a region of 65 characters', 'BAD_USER_INPUT', { region: 'r'.repeat(65) }],
    ];

    it.each(cases)('%s → %s', async (_name, code, over) => {
      const before = await listingCount(t);
      const res = await t.gql(CREATE, { input: validInput(over) }, seller.key);
      expect(res.code).toBe(code);
      expect(res.data?.createListing ?? null).toBeNull();
      expect(await listingCount(t)).toBe(before);
    });

    it('a number written in the query text is BAD_USER_INPUT too', async () => {
      const before = await listingCount(t);
      const res = await t.gql(
        `mutation { createListing(input: { gpuType: "H100", region: "us-east", gpuHours: 10, wholesalePricePerGpuHour: "1.50", availableFrom: "2026-01-01T00:00:00Z", availableUntil: "2027-01-01T00:00:00Z" }) { id } }`,
        {},
        seller.key,
      );
      expect(res.code).toBe('BAD_USER_INPUT');
      expect(await listingCount(t)).toBe(before);
    });

    it('the ledger is still balanced after all the rejections', async () => {
      expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
    });
  });

  describe('withdrawListing', () => {
    it('by its seller: WITHDRAWN, nothing left on the market, nothing allocated', async () => {
      const l = await createListing(t, seller, { gpuHours: '20', wholesalePricePerGpuHour: '1.25' });
      const marketBefore = await marketStats(t);
      const res = await t.gql(WITHDRAW, { id: l.id }, seller.key);
      expect(res.errors).toBeUndefined();
      expect(res.data.withdrawListing).toMatchObject({
        id: l.id,
        status: 'WITHDRAWN',
        totalCredits: '20.000000',
        allocatedCredits: '0.000000',
        availableCredits: '0.000000',
        seller: { id: seller.id },
      });
      expect(await listingById(t, l.id)).toEqual(res.data.withdrawListing);
      // Its credits left the market (WITHDRAWN is not counted in utilization).
      const marketAfter = await marketStats(t);
      expect(new Decimal(marketBefore.totalCredits).minus(marketAfter.totalCredits).toFixed(6)).toBe('20.000000');
      expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
    });

    it('by another seller: FORBIDDEN and the listing is untouched; a buyer: FORBIDDEN; anonymous: UNAUTHENTICATED', async () => {
      const l = await createListing(t, seller, { gpuHours: '5', wholesalePricePerGpuHour: '1.25' });
      const before = await listingById(t, l.id);
      expect((await t.gql(WITHDRAW, { id: l.id }, otherSeller.key)).code).toBe('FORBIDDEN');
      const buyer = await register(t, 'BUYER');
      expect((await t.gql(WITHDRAW, { id: l.id }, buyer.key)).code).toBe('FORBIDDEN');
      expect((await t.gql(WITHDRAW, { id: l.id })).code).toBe('UNAUTHENTICATED');
      expect(await listingById(t, l.id)).toEqual(before);
      expect(before.status).toBe('OPEN');
    });

    it('twice: INVALID_STATE the second time, and the listing stays as the first withdrawal left it', async () => {
      const l = await createListing(t, seller, { gpuHours: '5', wholesalePricePerGpuHour: '1.25' });
      expect((await t.gql(WITHDRAW, { id: l.id }, seller.key)).errors).toBeUndefined();
      const after = await listingById(t, l.id);
      const second = await t.gql(WITHDRAW, { id: l.id }, seller.key);
      expect(second.code).toBe('INVALID_STATE');
      expect(await listingById(t, l.id)).toEqual(after);
      expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
    });

    it('an unknown or malformed id: NOT_FOUND', async () => {
      expect((await t.gql(WITHDRAW, { id: randomUUID() }, seller.key)).code).toBe('NOT_FOUND');
      expect((await t.gql(WITHDRAW, { id: 'not-a-listing' }, seller.key)).code).toBe('NOT_FOUND');
    });
  });
});

describe('withdrawing after a partial purchase', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('keeps the allocated credits and the buyer\'s block; only the remainder leaves the market', async () => {
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const l = await createListing(t, seller, { gpuHours: '100', wholesalePricePerGpuHour: '1.50' });
    const bought = await purchase(t, buyer, '40');
    expect(bought.errors).toBeUndefined();
    // u = 0 before the order, noon: 1.50 × 1.2 = 1.80 a credit.
    const price = new Decimal('1.50').times(MARKUP);
    expect(bought.data.purchaseCredits).toMatchObject({ credits: '40.000000', unitPrice: price.toFixed(6), totalPrice: price.times(40).toFixed(2) });
    const blockBefore = await blocksOf(t, buyer);
    expect(blockBefore).toHaveLength(1);
    expect(blockBefore[0]).toMatchObject({ type: 'STANDARD', status: 'ACTIVE', granted: '40.000000', remaining: '40.000000' });
    const sellerPaid = new Decimal(40).times('1.50').toFixed(2);
    expect(await walletOf(t, seller)).toBe(sellerPaid);
    const buyerWallet = await walletOf(t, buyer);
    expect(buyerWallet).toBe(new Decimal('1000').minus(price.times(40)).toFixed(2));

    const res = await t.gql(WITHDRAW, { id: l.id }, seller.key);
    expect(res.errors).toBeUndefined();
    expect(res.data.withdrawListing).toMatchObject({
      status: 'WITHDRAWN',
      totalCredits: '100.000000',
      allocatedCredits: '40.000000',
      availableCredits: '0.000000',
    });
    // The buyer keeps the block; nobody is refunded or re-charged.
    expect(await blocksOf(t, buyer)).toEqual(blockBefore);
    expect(await walletOf(t, buyer)).toBe(buyerWallet);
    expect(await walletOf(t, seller)).toBe(sellerPaid);
    // The market no longer counts the withdrawn listing and cannot sell its remainder.
    expect(await marketStats(t)).toEqual({ totalCredits: '0.000000', allocatedCredits: '0.000000', utilization: '0.000000', standardPricePerCredit: null });
    expect((await purchase(t, buyer, '1')).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'STANDARD', credits: '1' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await listingById(t, l.id)).toMatchObject({ status: 'WITHDRAWN', allocatedCredits: '40.000000', availableCredits: '0.000000' });
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('status transitions', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('SOLD_OUT when fully bought, and it can be found by that status', async () => {
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '100.00');
    const l = await createListing(t, seller, { gpuType: 'A100', gpuHours: '20', wholesalePricePerGpuHour: '0.70' });
    expect(l.totalCredits).toBe('10.000000');
    expect((await purchase(t, buyer, '6')).errors).toBeUndefined();
    expect(await listingById(t, l.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '6.000000', availableCredits: '4.000000' });
    expect((await purchase(t, buyer, '4')).errors).toBeUndefined();
    expect(await listingById(t, l.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '10.000000', availableCredits: '0.000000' });
    expect((await allListings(t, { status: 'SOLD_OUT' })).map((x) => x.id)).toEqual([l.id]);
    expect(await allListings(t, { status: 'OPEN' })).toEqual([]);
    expect((await purchase(t, buyer, '0.000001')).code).toBe('INSUFFICIENT_CAPACITY');
    // Seller paid 10 × 1.40 at once.
    expect(await walletOf(t, seller)).toBe('14.00');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('EXPIRED once availableUntil has passed; its remainder cannot be bought; filters find it', async () => {
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '500.00');
    const l = await createListing(t, seller, { gpuHours: '20', wholesalePricePerGpuHour: '1.50', availableUntil: '2026-01-10T00:00:00Z' });
    expect((await purchase(t, buyer, '5')).errors).toBeUndefined();
    const blocks = await blocksOf(t, buyer);
    const wallet = await walletOf(t, buyer);

    await advanceClock(t, '2026-01-09T23:59:59Z');
    expect(await listingById(t, l.id)).toMatchObject({ status: 'OPEN', availableCredits: '15.000000' });

    // The window is [availableFrom, availableUntil): at availableUntil it is over.
    await advanceClock(t, '2026-01-10T00:00:00Z');
    expect(await listingById(t, l.id)).toMatchObject({ status: 'EXPIRED', allocatedCredits: '5.000000', availableCredits: '0.000000' });
    expect((await allListings(t, { status: 'EXPIRED' })).map((x) => x.id)).toEqual([l.id]);
    expect(await allListings(t, { status: 'OPEN' })).toEqual([]);

    const after = await purchase(t, buyer, '1');
    expect(after.code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'STANDARD', credits: '1' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await walletOf(t, buyer)).toBe(wallet);
    expect(await blocksOf(t, buyer)).toEqual(blocks);
    expect(await marketStats(t)).toMatchObject({ totalCredits: '0.000000', standardPricePerCredit: null });
    // An expired listing cannot be withdrawn.
    expect((await t.gql(WITHDRAW, { id: l.id }, seller.key)).code).toBe('INVALID_STATE');
    // Servicing is idempotent: a second run at a later instant changes nothing here.
    await advanceClock(t, '2026-01-11T00:00:00Z');
    expect(await listingById(t, l.id)).toMatchObject({ status: 'EXPIRED', allocatedCredits: '5.000000', availableCredits: '0.000000' });
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('after expiry, a newer open listing serves purchases', async () => {
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '500.00');
    const old = await createListing(t, seller, { gpuHours: '20', wholesalePricePerGpuHour: '1.00', availableUntil: '2026-01-06T00:00:00Z' });
    const fresh = await createListing(t, seller, { gpuHours: '20', wholesalePricePerGpuHour: '2.00' });
    await advanceClock(t, '2026-01-06T12:00:00Z');
    const bought = await purchase(t, buyer, '3');
    expect(bought.errors).toBeUndefined();
    // Only the 2.00 listing is open: 2.00 × 1.2 = 2.40.
    expect(bought.data.purchaseCredits.unitPrice).toBe(new Decimal('2.00').times(MARKUP).toFixed(6));
    expect(await listingById(t, old.id)).toMatchObject({ status: 'EXPIRED', allocatedCredits: '0.000000' });
    expect(await listingById(t, fresh.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '3.000000' });
  });
});

describe('the listings connection', () => {
  let t: TestApp;
  let created: any[];
  const PAGE = `query($filter: ListingFilter, $first: Int, $after: String) {
    listings(filter: $filter, first: $first, after: $after) { totalCount edges { cursor node { id gpuType region status } } pageInfo { hasNextPage endCursor } } }`;

  beforeAll(async () => {
    t = await startTestApp();
    const sellers = [await register(t, 'SELLER'), await register(t, 'SELLER')];
    // Eleven listings, all at the same business instant (the test clock does not move):
    // creation order must still be kept.
    const specs: [string, string][] = [
      ['H100', 'us-east'],
      ['A100', 'us-east'],
      ['H100', 'eu-west'],
      ['L40S', 'us-east'],
      ['H100', 'us-east'],
      ['A100', 'eu-west'],
      ['H100', 'us-east'],
      ['B200', 'ap-south'],
      ['H100', 'eu-west'],
      ['A100', 'us-east'],
      ['H100', 'us-east'],
    ];
    created = [];
    for (const [i, [gpuType, region]] of specs.entries()) {
      created.push({ ...(await createListing(t, sellers[i % 2], { gpuType, region, gpuHours: '10', wholesalePricePerGpuHour: '1.50' })), gpuType, region, seller: sellers[i % 2] });
    }
    // One withdrawn, one sold out (the cheapest, so a purchase fills exactly it).
    const w = await t.gql(WITHDRAW, { id: created[2].id }, created[2].seller.key);
    expect(w.errors).toBeUndefined();
    created[2].status = 'WITHDRAWN';
    const cheap = await createListing(t, sellers[0], { gpuType: 'H100', region: 'us-east', gpuHours: '2', wholesalePricePerGpuHour: '0.10' });
    created.push({ ...cheap, gpuType: 'H100', region: 'us-east', status: 'SOLD_OUT' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '100.00');
    expect((await purchase(t, buyer, '2')).errors).toBeUndefined();
    for (const c of created) c.status ??= 'OPEN';
  });
  afterAll(async () => {
    await t.close();
  });

  async function walk(first: number, filter: Record<string, string> = {}) {
    const ids: string[] = [];
    const pages: { size: number; hasNextPage: boolean; totalCount: number }[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 100; guard++) {
      const res: any = await t.gql(PAGE, { filter, first, after });
      expect(res.errors).toBeUndefined();
      const conn = res.data.listings;
      pages.push({ size: conn.edges.length, hasNextPage: conn.pageInfo.hasNextPage, totalCount: conn.totalCount });
      ids.push(...conn.edges.map((e: any) => e.node.id));
      if (conn.edges.length) expect(conn.pageInfo.endCursor).toBe(conn.edges[conn.edges.length - 1].cursor);
      else expect(conn.pageInfo.endCursor).toBeNull();
      if (!conn.pageInfo.hasNextPage) return { ids, pages };
      after = conn.pageInfo.endCursor;
    }
    throw new Error('pagination did not end');
  }

  it.each([1, 2, 3, 5, 12, 100])('first: %i walks every listing exactly once, in creation order', async (first) => {
    const { ids, pages } = await walk(first);
    expect(ids).toEqual(created.map((c) => c.id));
    expect(new Set(ids).size).toBe(created.length);
    const n = created.length;
    const expectedPages = Math.max(1, Math.ceil(n / first));
    expect(pages).toHaveLength(expectedPages);
    pages.forEach((p, i) => {
      expect(p.totalCount).toBe(n);
      expect(p.size).toBe(Math.min(first, n - i * first));
      expect(p.hasNextPage).toBe(i < expectedPages - 1);
    });
  });

  it.each([
    [{ gpuType: 'H100' }],
    [{ gpuType: 'A100' }],
    [{ region: 'us-east' }],
    [{ region: 'eu-west' }],
    [{ status: 'OPEN' }],
    [{ status: 'WITHDRAWN' }],
    [{ status: 'SOLD_OUT' }],
    [{ status: 'EXPIRED' }],
    [{ gpuType: 'H100', region: 'us-east', status: 'OPEN' }],
    [{ gpuType: 'B200', region: 'us-east' }],
  ])('filter %j: exactly the matching listings, paged with first: 2', async (filter: Record<string, string>) => {
    const expected = created.filter((c) => Object.entries(filter).every(([k, v]) => c[k] === v)).map((c) => c.id);
    const { ids, pages } = await walk(2, filter);
    expect(ids).toEqual(expected);
    for (const p of pages) expect(p.totalCount).toBe(expected.length);
    const res = await t.gql(PAGE, { filter, first: 100 });
    for (const e of res.data.listings.edges) {
      for (const [k, v] of Object.entries(filter)) expect(e.node[k]).toBe(v);
    }
  });

  it('an empty page has no endCursor and no next page', async () => {
    const res = await t.gql(PAGE, { filter: { gpuType: 'NOPE' }, first: 5 });
    expect(res.data.listings).toEqual({ totalCount: 0, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const last = await t.gql(PAGE, { first: 100 });
    const end = await t.gql(PAGE, { first: 5, after: last.data.listings.pageInfo.endCursor });
    expect(end.data.listings).toEqual({ totalCount: created.length, edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });

  it('is public: anonymous callers read it', async () => {
    const res = await t.gql(`{ listings(first: 1) { totalCount } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.listings.totalCount).toBe(created.length);
  });

  it.each([0, -1, 101, 1000])('first: %i → BAD_USER_INPUT', async (first) => {
    expect((await t.gql(PAGE, { first })).code).toBe('BAD_USER_INPUT');
  });

  it.each([
    'garbage',
    '',
    Buffer.from('["not-a-date","also-not-an-id"]').toString('base64url'),
    Buffer.from(JSON.stringify([CLOCK_START, 'not-a-uuid'])).toString('base64url'),
    Buffer.from('{"a":1}').toString('base64url'),
  ])('after: %j → BAD_USER_INPUT', async (after) => {
    const res = await t.gql(PAGE, { first: 5, after });
    expect(res.code).toBe('BAD_USER_INPUT');
  });
});

describe('concurrency: buyers race for the last capacity', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  async function fundedBuyers(n: number, amount: string): Promise<Org[]> {
    const buyers = await Promise.all(Array.from({ length: n }, (_, i) => register(t, 'BUYER', `racer-${i}`)));
    await Promise.all(buyers.map((b) => deposit(t, b, amount)));
    return buyers;
  }

  it('20 buyers each asking 1 of the last 10 credits: exactly 10 win, each at the price of the utilization before its order', async () => {
    const seller = await register(t, 'SELLER');
    const l = await createListing(t, seller, { gpuHours: '30', wholesalePricePerGpuHour: '1.50' });
    const first = await register(t, 'BUYER');
    await deposit(t, first, '1000.00');
    expect((await purchase(t, first, '20')).errors).toBeUndefined();
    expect(await listingById(t, l.id)).toMatchObject({ availableCredits: '10.000000', allocatedCredits: '20.000000' });

    const buyers = await fundedBuyers(20, '100.00');
    const results = await Promise.all(buyers.map((b, i) => purchase(t, b, '1', { idempotencyKey: `race-${i}` })));
    const won = results.filter((r) => !r.errors);
    const lost = results.filter((r) => r.errors);
    expect(won).toHaveLength(10);
    expect(lost).toHaveLength(10);
    for (const r of lost) expect(r.code).toBe('INSUFFICIENT_CAPACITY');

    // The purchases were serialized: the k-th winner saw u = (20 + k) / 30 before its order.
    const expectedPrices = Array.from({ length: 10 }, (_, k) => {
      const u = new Decimal(20 + k).div(30);
      const multiplier = new Decimal(1).plus(Decimal.max(0, u.minus(DEMAND_THRESHOLD)));
      return new Decimal('1.50').times(MARKUP).times(multiplier).decimalPlaces(6, Decimal.ROUND_HALF_UP).toFixed(6);
    }).sort();
    expect(won.map((r) => r.data.purchaseCredits.unitPrice).sort()).toEqual(expectedPrices);

    const after = await listingById(t, l.id);
    expect(after).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: after.totalCredits, availableCredits: '0.000000' });
    expect(after.totalCredits).toBe('30.000000');

    let granted = new Decimal(0);
    for (const [i, b] of buyers.entries()) {
      const blocks = await blocksOf(t, b);
      const wallet = await walletOf(t, b);
      expect(new Decimal(wallet).gte(0)).toBe(true);
      if (results[i].errors) {
        expect(blocks).toEqual([]);
        expect(wallet).toBe('100.00');
      } else {
        expect(blocks).toHaveLength(1);
        expect(blocks[0]).toMatchObject({ granted: '1.000000', remaining: '1.000000', status: 'ACTIVE' });
        expect(wallet).toBe(new Decimal('100.00').minus(results[i].data.purchaseCredits.totalPrice).toFixed(2));
        granted = granted.plus(blocks[0].granted);
      }
    }
    expect(granted.toFixed(6)).toBe('10.000000');
    // The seller was paid for all 30 credits exactly once.
    expect(await walletOf(t, seller)).toBe(new Decimal(30).times('1.50').toFixed(2));
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('20 buyers each asking 3 of 10 credits: exactly 3 win and 9 are allocated', async () => {
    const seller = await register(t, 'SELLER');
    const l = await createListing(t, seller, { gpuType: 'A100', gpuHours: '20', wholesalePricePerGpuHour: '0.70' });
    expect(l.totalCredits).toBe('10.000000');
    const buyers = await fundedBuyers(20, '50.00');
    const results = await Promise.all(buyers.map((b, i) => purchase(t, b, '3', { idempotencyKey: `race3-${i}` })));
    const won = results.filter((r) => !r.errors);
    expect(won).toHaveLength(3);
    for (const r of results.filter((r) => r.errors)) expect(r.code).toBe('INSUFFICIENT_CAPACITY');
    expect(await listingById(t, l.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '9.000000', availableCredits: '1.000000' });

    let granted = new Decimal(0);
    let spent = new Decimal(0);
    for (const b of buyers) {
      const wallet = new Decimal(await walletOf(t, b));
      expect(wallet.gte(0)).toBe(true);
      spent = spent.plus(new Decimal('50.00').minus(wallet));
      for (const block of await blocksOf(t, b)) granted = granted.plus(block.granted);
    }
    expect(granted.toFixed(6)).toBe('9.000000');
    expect(spent.toFixed(2)).toBe(won.reduce((s, r) => s.plus(r.data.purchaseCredits.totalPrice), new Decimal(0)).toFixed(2));
    expect(await walletOf(t, seller)).toBe(new Decimal(9).times('1.40').toFixed(2));
    expect(await marketStats(t)).toMatchObject({ totalCredits: '10.000000', allocatedCredits: '9.000000', utilization: '0.900000' });
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('a withdrawal racing purchases: buyers never get capacity that left the market', async () => {
    const seller = await register(t, 'SELLER');
    const l = await createListing(t, seller, { gpuHours: '10', wholesalePricePerGpuHour: '1.50' });
    const buyers = await fundedBuyers(10, '50.00');
    const [withdrawn, ...results] = await Promise.all([
      t.gql(WITHDRAW, { id: l.id }, seller.key),
      ...buyers.map((b, i) => purchase(t, b, '1', { idempotencyKey: `wr-${i}` })),
    ]);
    expect(withdrawn.errors).toBeUndefined();
    const won = results.filter((r) => !r.errors).length;
    for (const r of results.filter((r) => r.errors)) expect(r.code).toBe('INSUFFICIENT_CAPACITY');
    const after = await listingById(t, l.id);
    expect(after).toMatchObject({ status: 'WITHDRAWN', availableCredits: '0.000000', allocatedCredits: new Decimal(won).toFixed(6) });
    expect(await walletOf(t, seller)).toBe(new Decimal(won).times('1.50').toFixed(2));
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});
