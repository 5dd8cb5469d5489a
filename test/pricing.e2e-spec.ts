import { Decimal } from '@ccx/core';
import { startTestApp, type TestApp } from './support/app.js';
import { allListings, createListing, listingById } from './support/drivers/listings.js';
import { blocksOf, marketStats, purchase, quote } from './support/drivers/market.js';
import { advanceClock, integrity, ledgerCounts } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { DEMAND_THRESHOLD, MARKUP, NIGHT_FACTOR } from './support/oracles.js';

/**
 * Pricing (SPEC §5): quotes and market stats are public and read-only; a purchase charges what
 * the quote said. Every expected figure below is computed here from the SPEC's formula, never
 * taken from the server. Each scenario that needs exact prices runs on its own fresh database,
 * because utilization and cheapest-first fills depend on every listing in the market.
 */


const round6 = (d: Decimal) => d.decimalPlaces(6, Decimal.ROUND_HALF_UP);
const cents = (d: Decimal) => d.decimalPlaces(2, Decimal.ROUND_HALF_UP);

/** Wholesale cost of a fill given as [credits, costPerCredit] parts (exact). */
function wholesale(parts: [string | number, string][]): Decimal {
  return parts.reduce((sum, [credits, cost]) => sum.plus(new Decimal(credits).times(cost)), new Decimal(0));
}

/** SPEC §5 standard unit price: cost ÷ q × (1 + margin) × (1 + max(0, u − 0.5)) × time-of-day, 6 dp. */
function standardUnit(wholesaleCost: Decimal, credits: string | number, u: Decimal = new Decimal(0), tod: Decimal = new Decimal(1)): Decimal {
  const demand = new Decimal(1).plus(Decimal.max(0, u.minus(DEMAND_THRESHOLD)));
  return round6(wholesaleCost.div(credits).times(MARKUP).times(demand).times(tod));
}

/** The whole observable state a read-only call must leave alone. */
async function state(t: TestApp, orgs: Org[], buyers: Org[]) {
  return {
    wallets: await Promise.all(orgs.map((o) => walletOf(t, o))),
    blocks: await Promise.all(buyers.map((b) => blocksOf(t, b))),
    listings: await allListings(t),
    market: await marketStats(t),
    ledger: await ledgerCounts(t),
    clock: (await t.gql('{ clock }')).data.clock,
  };
}

function expectQuote(res: { errors?: unknown; data: any }, expected: Record<string, string>) {
  expect(res.errors).toBeUndefined();
  const q = res.data.quote;
  expect({ type: q.type, credits: q.credits, unitPrice: q.unitPrice, totalPrice: q.totalPrice, wholesaleCost: q.wholesaleCost }).toEqual({
    type: expected.type,
    credits: expected.credits,
    unitPrice: expected.unitPrice,
    totalPrice: expected.totalPrice,
    wholesaleCost: expected.wholesaleCost,
  });
  expect(new Decimal(q.discountRate).eq(expected.discountRate ?? '0')).toBe(true);
}

describe('the SPEC §5 example, quoted and bought', () => {
  let t: TestApp;
  let h100Seller: Org;
  let a100Seller: Org;
  let buyer: Org;
  beforeAll(async () => {
    t = await startTestApp();
    h100Seller = await register(t, 'SELLER');
    a100Seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '5000.00');
  });
  afterAll(async () => {
    await t.close();
  });

  it('one H100 listing at 1.50, u = 0, noon: 1,000 standard credits at 1.800000, 1,800.00 in all', async () => {
    const h100 = await createListing(t, h100Seller, { gpuType: 'H100', gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
    expect(h100.wholesaleCostPerCredit).toBe('1.500000');
    const cost = wholesale([[1000, '1.50']]);
    const unit = standardUnit(cost, 1000);
    expect(unit.toFixed(6)).toBe('1.800000');
    const res = await quote(t, { type: 'STANDARD', credits: '1000' });
    expectQuote(res, {
      type: 'STANDARD',
      credits: '1000.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(1000)).toFixed(2),
      wholesaleCost: cents(cost).toFixed(2),
      discountRate: '0',
    });
    expect(res.data.quote).toMatchObject({ unitPrice: '1.800000', totalPrice: '1800.00', wholesaleCost: '1500.00' });
  });

  it('with a second listing of A100 at 0.70 holding 500 credits, 1,500 credits fill cheapest first: 2,200.00 wholesale, 1.760000 a credit', async () => {
    const a100 = await createListing(t, a100Seller, { gpuType: 'A100', gpuHours: '1000', wholesalePricePerGpuHour: '0.70' });
    expect(a100).toMatchObject({ totalCredits: '500.000000', wholesaleCostPerCredit: '1.400000' });
    const cost = wholesale([
      [500, '1.40'],
      [1000, '1.50'],
    ]);
    const unit = standardUnit(cost, 1500);
    expect(cost.toFixed(2)).toBe('2200.00');
    expect(unit.toFixed(6)).toBe('1.760000');
    const expected = { type: 'STANDARD', credits: '1500.000000', unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(1500)).toFixed(2), wholesaleCost: cost.toFixed(2) };
    expect(expected.totalPrice).toBe('2640.00');
    // Anonymous and authenticated callers get the same quote.
    expectQuote(await quote(t, { type: 'STANDARD', credits: '1500' }), expected);
    expectQuote(await quote(t, { type: 'STANDARD', credits: '1500' }, buyer.key), expected);
    // Below 500 the fill is all A100: 1.40 × 1.2.
    expectQuote(await quote(t, { type: 'STANDARD', credits: '500' }), {
      type: 'STANDARD',
      credits: '500.000000',
      unitPrice: standardUnit(wholesale([[500, '1.40']]), 500).toFixed(6),
      totalPrice: cents(standardUnit(wholesale([[500, '1.40']]), 500).times(500)).toFixed(2),
      wholesaleCost: '700.00',
    });
  });

  it('a FINANCED quote is wholesale: no margin, no multiplier, no discount', async () => {
    const cost = wholesale([
      [500, '1.40'],
      [1000, '1.50'],
    ]);
    const unit = round6(cost.div(1500));
    expectQuote(await quote(t, { type: 'FINANCED', credits: '1500' }), {
      type: 'FINANCED',
      credits: '1500.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(1500)).toFixed(2),
      wholesaleCost: '2200.00',
      discountRate: '0',
    });
    expect(unit.toFixed(6)).toBe('1.466667');
  });

  it('quotes change nothing: wallets, blocks, listings, market and ledger are as they were', async () => {
    const before = await state(t, [h100Seller, a100Seller, buyer], [buyer]);
    for (let i = 0; i < 3; i++) {
      expect((await quote(t, { type: 'STANDARD', credits: '1500' }, buyer.key)).errors).toBeUndefined();
      expect((await quote(t, { type: 'RESERVED', credits: '1200', termMonths: 12 })).errors).toBeUndefined();
      expect((await quote(t, { type: 'FINANCED', credits: '10000' })).errors).toBeUndefined();
      expect((await quote(t, { type: 'STANDARD', credits: '999999' })).code).toBe('INSUFFICIENT_CAPACITY');
      expect((await quote(t, { type: 'STANDARD', credits: '-1' })).code).toBe('BAD_USER_INPUT');
      expect((await t.gql('{ market { utilization } }')).errors).toBeUndefined();
    }
    expect(await state(t, [h100Seller, a100Seller, buyer], [buyer])).toEqual(before);
    expect(before.market).toMatchObject({ allocatedCredits: '0.000000', utilization: '0.000000' });
  });

  it('purchaseCredits charges exactly the quoted figures and pays each seller its wholesale', async () => {
    const q = (await quote(t, { type: 'STANDARD', credits: '1500' }, buyer.key)).data.quote;
    const res = await purchase(t, buyer, '1500', { maxUnitPrice: q.unitPrice });
    expect(res.errors).toBeUndefined();
    expect(res.data.purchaseCredits).toMatchObject({
      type: 'STANDARD',
      credits: '1500.000000',
      unitPrice: '1.760000',
      totalPrice: '2640.00',
      block: { type: 'STANDARD', status: 'ACTIVE', granted: '1500.000000', remaining: '1500.000000', unitPrice: '1.760000', expiresAt: null },
    });
    expect(res.data.purchaseCredits.unitPrice).toBe(q.unitPrice);
    expect(res.data.purchaseCredits.totalPrice).toBe(q.totalPrice);
    expect(await walletOf(t, buyer)).toBe(new Decimal('5000.00').minus('2640.00').toFixed(2));
    expect(await walletOf(t, a100Seller)).toBe(cents(new Decimal(500).times('1.40')).toFixed(2));
    expect(await walletOf(t, h100Seller)).toBe(cents(new Decimal(1000).times('1.50')).toFixed(2));
    const listings = await allListings(t);
    expect(listings.map((l) => [l.gpuType, l.status, l.allocatedCredits])).toEqual([
      ['H100', 'OPEN', '1000.000000'],
      ['A100', 'SOLD_OUT', '500.000000'],
    ]);
    expect(await marketStats(t)).toMatchObject({
      totalCredits: '10500.000000',
      allocatedCredits: '1500.000000',
      utilization: round6(new Decimal(1500).div(10500)).toFixed(6),
    });
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('demand multiplier', () => {
  let t: TestApp;
  let buyer: Org;
  beforeAll(async () => {
    t = await startTestApp();
    const seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '1000', wholesalePricePerGpuHour: '1.50' });
  });
  afterAll(async () => {
    await t.close();
  });

  const cost = '1.50';
  async function buy(credits: string, u: Decimal) {
    const unit = standardUnit(wholesale([[credits, cost]]), credits, u);
    const res = await purchase(t, buyer, credits);
    expect(res.errors).toBeUndefined();
    expect(res.data.purchaseCredits).toMatchObject({ unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(credits)).toFixed(2) });
  }
  async function expectPriceAt(u: Decimal, allocated: string) {
    const unit = standardUnit(wholesale([[100, cost]]), 100, u);
    expectQuote(await quote(t, { type: 'STANDARD', credits: '100' }), {
      type: 'STANDARD',
      credits: '100.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(100)).toFixed(2),
      wholesaleCost: '150.00',
    });
    expect(await marketStats(t)).toEqual({
      totalCredits: '1000.000000',
      allocatedCredits: allocated,
      utilization: round6(u).toFixed(6),
      standardPricePerCredit: standardUnit(new Decimal(cost), 1, u).toFixed(6),
    });
    return unit;
  }

  it('below 0.5 there is no markup', async () => {
    await buy('400', new Decimal(0));
    expect((await expectPriceAt(new Decimal('0.4'), '400.000000')).toFixed(6)).toBe('1.800000');
  });

  it('at exactly 0.5 there is still no markup', async () => {
    await buy('100', new Decimal('0.4'));
    expect((await expectPriceAt(new Decimal('0.5'), '500.000000')).toFixed(6)).toBe('1.800000');
  });

  it('at u = 0.8 the unit price is cost × 1.2 × 1.3', async () => {
    await buy('300', new Decimal('0.5'));
    const unit = await expectPriceAt(new Decimal('0.8'), '800.000000');
    expect(unit.toFixed(6)).toBe('2.340000');
  });

  it('a purchase at u = 0.8 pays the u-before-the-order price, and u = 0.9 prices the next', async () => {
    await buy('100', new Decimal('0.8'));
    const unit = await expectPriceAt(new Decimal('0.9'), '900.000000');
    expect(unit.toFixed(6)).toBe(round6(new Decimal('1.8').times('1.4')).toFixed(6));
  });

  it('a FINANCED quote ignores the demand multiplier', async () => {
    expectQuote(await quote(t, { type: 'FINANCED', credits: '100' }), {
      type: 'FINANCED',
      credits: '100.000000',
      unitPrice: '1.500000',
      totalPrice: '150.00',
      wholesaleCost: '150.00',
      discountRate: '0',
    });
  });

  it('at night the demand multiplier and the night factor both apply', async () => {
    await advanceClock(t, '2026-01-05T23:00:00Z');
    const unit = standardUnit(wholesale([[100, cost]]), 100, new Decimal('0.9'), NIGHT_FACTOR);
    expect(unit.toFixed(6)).toBe('2.268000');
    expect((await quote(t, { type: 'STANDARD', credits: '100' })).data.quote.unitPrice).toBe(unit.toFixed(6));
    expect((await marketStats(t)).standardPricePerCredit).toBe(unit.toFixed(6));
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('demand multiplier with a utilization that does not terminate', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('u = 5/7: market shows 0.714286; the price uses u exactly and rounds once, HALF_UP', async () => {
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '20000.00');
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '7000', wholesalePricePerGpuHour: '1.50' });
    expect((await purchase(t, buyer, '5000')).errors).toBeUndefined();
    const u = new Decimal(5).div(7);
    const unit = standardUnit(wholesale([[7, '1.50']]), 7, u);
    expect(unit.toFixed(6)).toBe('2.185714');
    expect(await marketStats(t)).toEqual({
      totalCredits: '7000.000000',
      allocatedCredits: '5000.000000',
      utilization: '0.714286',
      standardPricePerCredit: unit.toFixed(6),
    });
    expectQuote(await quote(t, { type: 'STANDARD', credits: '7' }), {
      type: 'STANDARD',
      credits: '7.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(7)).toFixed(2),
      wholesaleCost: '10.50',
    });
    const bought = await purchase(t, buyer, '7');
    expect(bought.data.purchaseCredits).toMatchObject({ unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(7)).toFixed(2) });
  });
});

describe('time-of-day factor', () => {
  let t: TestApp;
  let seller: Org;
  let buyer: Org;
  beforeAll(async () => {
    t = await startTestApp();
    seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
  });
  afterAll(async () => {
    await t.close();
  });

  const day = standardUnit(wholesale([[1000, '1.50']]), 1000);
  const night = standardUnit(wholesale([[1000, '1.50']]), 1000, new Decimal(0), NIGHT_FACTOR);

  it.each([
    ['2026-01-05T12:00:00Z', day, '1.800000'],
    ['2026-01-05T21:59:59Z', day, '1.800000'],
    ['2026-01-05T22:00:00Z', night, '1.620000'],
    ['2026-01-05T23:00:00Z', night, '1.620000'],
    ['2026-01-06T00:00:00Z', night, '1.620000'],
    ['2026-01-06T05:59:59Z', night, '1.620000'],
    ['2026-01-06T06:00:00Z', day, '1.800000'],
    ['2026-01-06T21:30:00Z', day, '1.800000'],
  ])('at %s the unit price is %s', async (at, unit, literal) => {
    if (at !== '2026-01-05T12:00:00Z') await advanceClock(t, at);
    expect(unit.toFixed(6)).toBe(literal);
    expectQuote(await quote(t, { type: 'STANDARD', credits: '1000' }), {
      type: 'STANDARD',
      credits: '1000.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(1000)).toFixed(2),
      wholesaleCost: '1500.00',
    });
    expect((await marketStats(t)).standardPricePerCredit).toBe(unit.toFixed(6));
  });

  it('a purchase at 23:00 pays the night price; the seller still gets full wholesale', async () => {
    await advanceClock(t, '2026-01-06T23:00:00Z');
    const res = await purchase(t, buyer, '100');
    expect(res.errors).toBeUndefined();
    const unit = standardUnit(wholesale([[100, '1.50']]), 100, new Decimal(0), NIGHT_FACTOR);
    expect(res.data.purchaseCredits).toMatchObject({ unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(100)).toFixed(2) });
    expect(res.data.purchaseCredits.totalPrice).toBe('162.00');
    expect(await walletOf(t, buyer)).toBe('838.00');
    expect(await walletOf(t, seller)).toBe('150.00');
    // FINANCED has no time-of-day factor.
    expect((await quote(t, { type: 'FINANCED', credits: '100' })).data.quote.unitPrice).toBe('1.500000');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('reserved quotes', () => {
  let t: TestApp;
  const A100_CREDITS = 500;
  beforeAll(async () => {
    t = await startTestApp();
    const seller = await register(t, 'SELLER');
    // A cheap small listing and a large dearer one, so the standard unit price depends on the
    // size of the commitment. Both windows cover every month of a 36-month term (SPEC §6).
    await createListing(t, seller, { gpuType: 'A100', gpuHours: '1000', wholesalePricePerGpuHour: '0.70', availableUntil: '2029-12-31T00:00:00Z' });
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '100000', wholesalePricePerGpuHour: '1.50', availableUntil: '2029-12-31T00:00:00Z' });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Wholesale cost of the cheapest fill of q credits in this market. */
  const fillOf = (q: Decimal) => {
    const cheap = Decimal.min(q, A100_CREDITS);
    return wholesale([
      [cheap.toFixed(), '1.40'],
      [q.minus(cheap).toFixed(), '1.50'],
    ]);
  };

  it.each([
    [1, '0.05'],
    [2, '0.05'],
    [3, '0.10'],
    [5, '0.10'],
    [6, '0.15'],
    [11, '0.15'],
    [12, '0.25'],
    [36, '0.25'],
  ])('termMonths %i: discount %s off the standard unit price of the whole commitment', async (termMonths, discount) => {
    const perMonth = new Decimal(100);
    const q = perMonth.times(termMonths);
    const cost = fillOf(q);
    const standard = standardUnit(cost, q.toFixed());
    const unit = round6(standard.times(new Decimal(1).minus(discount)));
    const res = await quote(t, { type: 'RESERVED', credits: q.toFixed(), termMonths });
    expectQuote(res, {
      type: 'RESERVED',
      credits: q.toFixed(6),
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(q)).toFixed(2),
      wholesaleCost: cents(cost).toFixed(2),
      discountRate: discount,
    });
    // And it agrees with the standard quote for the same credits.
    const std = await quote(t, { type: 'STANDARD', credits: q.toFixed() });
    expect(std.data.quote.unitPrice).toBe(standard.toFixed(6));
    expect(res.data.quote.unitPrice).toBe(round6(new Decimal(std.data.quote.unitPrice).times(new Decimal(1).minus(discount))).toFixed(6));
  });

  it('the 6- and 11-month commitments are priced on their whole size, not on one month', async () => {
    // One month of 100 is all A100 (1.68); six months of 100 are 500 A100 + 100 H100.
    const six = (await quote(t, { type: 'RESERVED', credits: '600', termMonths: 6 })).data.quote;
    expect(six.unitPrice).toBe(round6(new Decimal('1.700000').times('0.85')).toFixed(6));
    expect(six.unitPrice).toBe('1.445000');
    const eleven = (await quote(t, { type: 'RESERVED', credits: '1100', termMonths: 11 })).data.quote;
    expect(eleven.unitPrice).toBe('1.483637');
  });

  it.each([
    ['10', 4],
    ['1.5', 3],
    ['1.2', 12],
    ['0.000036', 36],
  ])('credits %s over %i months divide into micro-credits per month: accepted', async (credits, termMonths) => {
    const res = await quote(t, { type: 'RESERVED', credits, termMonths });
    expect(res.errors).toBeUndefined();
    const q = new Decimal(credits);
    const discount = termMonths >= 12 ? '0.25' : termMonths >= 6 ? '0.15' : termMonths >= 3 ? '0.10' : '0.05';
    const unit = round6(standardUnit(fillOf(q), credits).times(new Decimal(1).minus(discount)));
    expectQuote(res, {
      type: 'RESERVED',
      credits: q.toFixed(6),
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(q)).toFixed(2),
      wholesaleCost: cents(fillOf(q)).toFixed(2),
      discountRate: discount,
    });
  });

  it.each([
    ['termMonths missing', { credits: '300' }],
    ['termMonths null', { credits: '300', termMonths: null }],
    ['termMonths 0', { credits: '300', termMonths: 0 }],
    ['termMonths -1', { credits: '300', termMonths: -1 }],
    ['termMonths 37', { credits: '370', termMonths: 37 }],
    ['termMonths 1.5', { credits: '300', termMonths: 1.5 }],
    ['termMonths "3"', { credits: '300', termMonths: '3' }],
    ['100 credits over 3 months', { credits: '100', termMonths: 3 }],
    ['0.000001 credits over 2 months', { credits: '0.000001', termMonths: 2 }],
    ['1 credit over 7 months', { credits: '1', termMonths: 7 }],
    ['0.000013 credits over 12 months', { credits: '0.000013', termMonths: 12 }],
  ])('%s → BAD_USER_INPUT', async (_name, input: Record<string, unknown>) => {
    const res = await quote(t, { type: 'RESERVED', ...input } as any);
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data?.quote ?? null).toBeNull();
  });

  it('reserveCredits locks the unit price the RESERVED quote gave', async () => {
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const q = (await quote(t, { type: 'RESERVED', credits: '300', termMonths: 3 })).data.quote;
    const expected = round6(standardUnit(fillOf(new Decimal(300)), 300).times('0.90'));
    expect(q.unitPrice).toBe(expected.toFixed(6));
    const res = await t.gql(
      `mutation { reserveCredits(input: { creditsPerMonth: "100", termMonths: 3, idempotencyKey: "r-1" }) { unitPrice discountRate termMonths creditsPerMonth } }`,
      {},
      buyer.key,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.reserveCredits.unitPrice).toBe(q.unitPrice);
    expect(new Decimal(res.data.reserveCredits.discountRate).eq('0.10')).toBe(true);
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('maxUnitPrice', () => {
  let t: TestApp;
  let seller: Org;
  let buyer: Org;
  beforeAll(async () => {
    t = await startTestApp();
    seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
  });
  afterAll(async () => {
    await t.close();
  });

  const unit = standardUnit(wholesale([[100, '1.50']]), 100);

  it('below the price: PRICE_LIMIT_EXCEEDED and nothing changes', async () => {
    const before = await state(t, [seller, buyer], [buyer]);
    const limit = unit.minus('0.000001').toFixed(6);
    expect(limit).toBe('1.799999');
    const res = await purchase(t, buyer, '100', { maxUnitPrice: limit });
    expect(res.code).toBe('PRICE_LIMIT_EXCEEDED');
    expect(res.data?.purchaseCredits ?? null).toBeNull();
    expect(await state(t, [seller, buyer], [buyer])).toEqual(before);
  });

  it.each([
    ['7 decimals', '1.8000001'],
    ['zero', '0'],
    ['negative', '-1.80'],
    ['exponent', '1.8e0'],
    ['a number', 1.8],
  ])('a malformed maxUnitPrice (%s) → BAD_USER_INPUT and nothing changes', async (_name, maxUnitPrice) => {
    const before = await state(t, [seller, buyer], [buyer]);
    const res = await purchase(t, buyer, '100', { maxUnitPrice: maxUnitPrice as string });
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(await state(t, [seller, buyer], [buyer])).toEqual(before);
  });

  it('at exactly the price (written either way) it succeeds at that price', async () => {
    const exact = await purchase(t, buyer, '100', { maxUnitPrice: unit.toFixed(6) });
    expect(exact.errors).toBeUndefined();
    expect(exact.data.purchaseCredits).toMatchObject({ unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(100)).toFixed(2) });
    const short = await purchase(t, buyer, '100', { maxUnitPrice: '1.8' });
    expect(short.errors).toBeUndefined();
    expect(await walletOf(t, buyer)).toBe(new Decimal('1000.00').minus(cents(unit.times(100)).times(2)).toFixed(2));
  });

  it('above the price the buyer pays the price, not the limit', async () => {
    const res = await purchase(t, buyer, '100', { maxUnitPrice: '5.00' });
    expect(res.errors).toBeUndefined();
    expect(res.data.purchaseCredits.unitPrice).toBe(unit.toFixed(6));
    expect(await walletOf(t, seller)).toBe(cents(new Decimal(300).times('1.50')).toFixed(2));
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('market stats', () => {
  let t: TestApp;
  let seller: Org;
  let buyer: Org;
  let l40s: any;
  beforeAll(async () => {
    t = await startTestApp();
    seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '5000.00');
  });
  afterAll(async () => {
    await t.close();
  });

  it('an empty market: zeros and no price', async () => {
    expect(await marketStats(t)).toEqual({ totalCredits: '0.000000', allocatedCredits: '0.000000', utilization: '0.000000', standardPricePerCredit: null });
  });

  it('open listings: totals, and the price of one credit from the cheapest', async () => {
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '300', wholesalePricePerGpuHour: '1.50' });
    l40s = await createListing(t, seller, { gpuType: 'L40S', gpuHours: '1000', wholesalePricePerGpuHour: '1.00' });
    expect(l40s).toMatchObject({ totalCredits: '350.000000', wholesaleCostPerCredit: '2.857143' });
    expect(await marketStats(t)).toEqual({
      totalCredits: '650.000000',
      allocatedCredits: '0.000000',
      utilization: '0.000000',
      standardPricePerCredit: standardUnit(new Decimal('1.50'), 1).toFixed(6),
    });
  });

  it('after purchases: exact utilization, SOLD_OUT listings still counted, the price follows the cheapest open listing', async () => {
    expect((await purchase(t, buyer, '200')).data.purchaseCredits.unitPrice).toBe('1.800000');
    let u = new Decimal(200).div(650);
    expect(await marketStats(t)).toEqual({
      totalCredits: '650.000000',
      allocatedCredits: '200.000000',
      utilization: round6(u).toFixed(6),
      standardPricePerCredit: '1.800000',
    });
    expect(round6(u).toFixed(6)).toBe('0.307692');

    // 100 H100 at 1.50 + 50 L40S at 2.857143.
    const cost = wholesale([
      [100, '1.50'],
      [50, '2.857143'],
    ]);
    const unit = standardUnit(cost, 150, u);
    const q = await quote(t, { type: 'STANDARD', credits: '150' });
    expectQuote(q, { type: 'STANDARD', credits: '150.000000', unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(150)).toFixed(2), wholesaleCost: cents(cost).toFixed(2) });
    expect(q.data.quote.wholesaleCost).toBe('292.86');
    const bought = await purchase(t, buyer, '150');
    expect(bought.data.purchaseCredits).toMatchObject({ unitPrice: unit.toFixed(6), totalPrice: cents(unit.times(150)).toFixed(2) });
    // Each seller payout is credits × cost, cents HALF_UP, per allocation.
    expect(await walletOf(t, seller)).toBe(cents(new Decimal(300).times('1.50')).plus(cents(new Decimal(50).times('2.857143'))).toFixed(2));

    u = new Decimal(350).div(650);
    expect(await marketStats(t)).toEqual({
      totalCredits: '650.000000',
      allocatedCredits: '350.000000',
      utilization: round6(u).toFixed(6),
      standardPricePerCredit: standardUnit(new Decimal('2.857143'), 1, u).toFixed(6),
    });
    expect((await allListings(t)).map((l) => l.status)).toEqual(['SOLD_OUT', 'OPEN']);
  });

  it('no open listing left: the price is null; SOLD_OUT capacity is still counted, WITHDRAWN is not', async () => {
    const w = await t.gql(`mutation($id: ID!) { withdrawListing(id: $id) { status } }`, { id: l40s.id }, seller.key);
    expect(w.errors).toBeUndefined();
    expect(await marketStats(t)).toEqual({ totalCredits: '300.000000', allocatedCredits: '300.000000', utilization: '1.000000', standardPricePerCredit: null });
    expect((await quote(t, { type: 'STANDARD', credits: '1' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('utilization is over the current market', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('a listing sold out in a window that has closed no longer weighs on u or the price', async () => {
    const seller = await register(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '2000.00');
    const old = await createListing(t, seller, { gpuType: 'H100', gpuHours: '300', wholesalePricePerGpuHour: '1.50', availableUntil: '2026-02-01T00:00:00Z' });
    expect((await purchase(t, buyer, '300')).errors).toBeUndefined();
    expect(await listingById(t, old.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '300.000000' });
    const fresh = await createListing(t, seller, { gpuType: 'H100', gpuHours: '100', wholesalePricePerGpuHour: '1.50', availableUntil: '2027-01-01T00:00:00Z' });
    // While both windows are open, the sold-out listing is part of the market: u = 300 / 400.
    let u = new Decimal(300).div(400);
    expect(await marketStats(t)).toEqual({
      totalCredits: '400.000000',
      allocatedCredits: '300.000000',
      utilization: '0.750000',
      standardPricePerCredit: standardUnit(new Decimal('1.50'), 1, u).toFixed(6),
    });

    // A month after the old window closed, the market is the fresh listing alone: u = 0.
    await advanceClock(t, '2026-03-01T12:00:00Z');
    u = new Decimal(0);
    expect(await marketStats(t)).toEqual({
      totalCredits: '100.000000',
      allocatedCredits: '0.000000',
      utilization: '0.000000',
      standardPricePerCredit: standardUnit(new Decimal('1.50'), 1, u).toFixed(6),
    });
    expect((await quote(t, { type: 'STANDARD', credits: '100' })).data.quote.unitPrice).toBe('1.800000');
    const bought = await purchase(t, buyer, '50');
    expect(bought.data.purchaseCredits.unitPrice).toBe('1.800000');
    expect(await listingById(t, fresh.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '50.000000' });
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('INSUFFICIENT_CAPACITY', () => {
  let t: TestApp;
  let seller: Org;
  let buyer: Org;
  beforeAll(async () => {
    t = await startTestApp();
    seller = await register(t, 'SELLER');
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '5000.00');
  });
  afterAll(async () => {
    await t.close();
  });

  it('with nothing listed, any quote or purchase is short', async () => {
    for (const type of ['STANDARD', 'FINANCED'] as const) expect((await quote(t, { type, credits: '1' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'RESERVED', credits: '3', termMonths: 3 })).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await purchase(t, buyer, '1')).code).toBe('INSUFFICIENT_CAPACITY');
  });

  it('a market of 150 credits over two listings sells 150 but not 150.000001', async () => {
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '100', wholesalePricePerGpuHour: '1.50' });
    await createListing(t, seller, { gpuType: 'A100', gpuHours: '100', wholesalePricePerGpuHour: '0.70' });
    const before = await state(t, [seller, buyer], [buyer]);
    expect((await quote(t, { type: 'STANDARD', credits: '150.000001' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'FINANCED', credits: '151' })).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await quote(t, { type: 'RESERVED', credits: '152', termMonths: 2 })).code).toBe('INSUFFICIENT_CAPACITY');
    expect((await purchase(t, buyer, '150.000001')).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await state(t, [seller, buyer], [buyer])).toEqual(before);

    const cost = wholesale([
      [50, '1.40'],
      [100, '1.50'],
    ]);
    const unit = standardUnit(cost, 150);
    expectQuote(await quote(t, { type: 'STANDARD', credits: '150' }), {
      type: 'STANDARD',
      credits: '150.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: cents(unit.times(150)).toFixed(2),
      wholesaleCost: cost.toFixed(2),
    });
    const bought = await purchase(t, buyer, '150');
    expect(bought.errors).toBeUndefined();
    expect(bought.data.purchaseCredits.totalPrice).toBe(cents(unit.times(150)).toFixed(2));
    expect((await purchase(t, buyer, '0.000001')).code).toBe('INSUFFICIENT_CAPACITY');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('cheapest first, ties in creation order', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('fills the cheapest listing first even if newest; equal costs are filled in the order they were listed', async () => {
    const sellers: Org[] = [];
    for (let i = 0; i < 4; i++) sellers.push(await register(t, 'SELLER', `tie-${i}`));
    const cheapSeller = await register(t, 'SELLER', 'cheap');
    // Four equal listings created one after another (the test clock gives them one createdAt),
    // then a cheaper one.
    const equal: any[] = [];
    for (const s of sellers) equal.push(await createListing(t, s, { gpuType: 'H100', gpuHours: '10', wholesalePricePerGpuHour: '1.50' }));
    await createListing(t, cheapSeller, { gpuType: 'A100', gpuHours: '20', wholesalePricePerGpuHour: '0.70' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const wallets = async () => Promise.all([...sellers, cheapSeller].map((s) => walletOf(t, s)));

    expect((await purchase(t, buyer, '10')).data.purchaseCredits.unitPrice).toBe(standardUnit(new Decimal('1.40'), 1).toFixed(6));
    expect(await wallets()).toEqual(['0.00', '0.00', '0.00', '0.00', '14.00']);
    expect((await purchase(t, buyer, '10')).errors).toBeUndefined();
    expect(await wallets()).toEqual(['15.00', '0.00', '0.00', '0.00', '14.00']);
    expect((await purchase(t, buyer, '15')).errors).toBeUndefined();
    expect(await wallets()).toEqual(['15.00', '15.00', '7.50', '0.00', '14.00']);
    const last = await purchase(t, buyer, '15');
    expect(last.errors).toBeUndefined();
    // u before the last order = 35 / 50 = 0.7.
    expect(last.data.purchaseCredits.unitPrice).toBe(standardUnit(new Decimal('1.50'), 1, new Decimal(35).div(50)).toFixed(6));
    expect(await wallets()).toEqual(['15.00', '15.00', '15.00', '15.00', '14.00']);
    for (const l of equal) expect(await listingById(t, l.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '10.000000' });
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});

describe('bad quote input', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuType: 'H100', gpuHours: '1000', wholesalePricePerGpuHour: '1.50' });
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([['0'], ['-1'], ['1.0000001'], ['1e2'], ['abc'], [''], [' 1'], ['+1'], ['NaN'], ['Infinity'], ['0.0000000'], [100]])(
    'credits %j → BAD_USER_INPUT',
    async (credits) => {
      for (const type of ['STANDARD', 'FINANCED'] as const) {
        const res = await quote(t, { type, credits });
        expect(res.code).toBe('BAD_USER_INPUT');
        expect(res.data?.quote ?? null).toBeNull();
      }
      expect((await quote(t, { type: 'RESERVED', credits, termMonths: 1 })).code).toBe('BAD_USER_INPUT');
    },
  );

  it('a number written in the query text → BAD_USER_INPUT', async () => {
    expect((await t.gql(`{ quote(input: { type: STANDARD, credits: 100 }) { unitPrice } }`)).code).toBe('BAD_USER_INPUT');
  });

  it('the smallest valid amount is quoted', async () => {
    const res = await quote(t, { type: 'STANDARD', credits: '0.000001' });
    expect(res.errors).toBeUndefined();
    expect(res.data.quote).toMatchObject({ credits: '0.000001', unitPrice: '1.800000', totalPrice: '0.00', wholesaleCost: '0.00' });
  });
});
