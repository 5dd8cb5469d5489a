/**
 * Standard purchases end to end (SPEC §1, §4, §5, §6, §10): price, fill, payment, block, ledger.
 *
 * Market state is global (utilization and cheapest-first depend on every listing), so each
 * scenario that needs exact prices runs on its own app and database. Expected numbers are
 * computed here from the SPEC rules with Decimal, never copied from a server answer; every
 * scenario ends with a balanced ledger and a reconciliation of wallets and platform revenue.
 */
import { blockAccountCode, listingAccountCode } from '../apps/api/src/ledger/chart-of-accounts.js';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { ledgerBalance, ledgerBalances, ledgerTransactionCount, marketState, REVENUE, walletCode } from './support/db-probes.js';
import { createListing, listingById } from './support/drivers/listings.js';
import { creditBalanceOf } from './support/drivers/market.js';
import { advanceClock, appPerBlock, integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { cr, D, expectedStandardUnit, round2, usd } from './support/oracles.js';

const PURCHASE = `mutation($input: PurchaseCreditsInput!) {
  purchaseCredits(input: $input) {
    id type credits unitPrice totalPrice createdAt
    block { id type status granted remaining unitPrice expiresAt createdAt }
  }
}`;

function buy(t: TestApp, buyer: Org, input: Record<string, unknown>) {
  return t.gql(PURCHASE, { input }, buyer.key);
}


/** Asserts the USD moves of a scenario add up: what buyers paid is what sellers and the platform got. */
function expectReconciled(before: Record<string, ReturnType<typeof D>>, after: Record<string, ReturnType<typeof D>>) {
  const sum = Object.keys(after).reduce((s, code) => s.plus(after[code].minus(before[code] ?? D(0))), D(0));
  expect(sum.toFixed(2)).toBe('0.00');
}

describe('a standard purchase at the SPEC §5 price', () => {
  const app = appPerBlock();

  it('charges the buyer, pays the seller its wholesale, keeps the margin and grants an ACTIVE STANDARD block', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    const listing = await createListing(t, seller, { gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '5000.00');
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);
    const listingBefore = await listingById(t, listing.id);

    // Independent expectation: one listing at 1.50/credit, u = 0, noon → 1.50 × 1.2 = 1.800000.
    const unit = expectedStandardUnit([['1000', '1.500000']], '0');
    const total = round2(D('1000').times(unit));
    const wholesale = round2(D('1000').times('1.50'));
    expect(unit.toFixed(6)).toBe('1.800000'); // the SPEC §5 example
    expect(total.toFixed(2)).toBe('1800.00');

    const res = await buy(t, buyer, { credits: '1000', idempotencyKey: 'p-1' });
    expect(res.errors).toBeUndefined();
    const p = res.data.purchaseCredits;
    expect(p).toMatchObject({
      type: 'STANDARD',
      credits: '1000.000000',
      unitPrice: unit.toFixed(6),
      totalPrice: total.toFixed(2),
      createdAt: CLOCK_START,
      block: {
        type: 'STANDARD',
        status: 'ACTIVE',
        granted: '1000.000000',
        remaining: '1000.000000',
        unitPrice: '1.800000',
        expiresAt: null,
        createdAt: CLOCK_START,
      },
    });

    // Wallets through the API and through the ledger.
    expect(await walletOf(t, buyer)).toBe('3200.00');
    expect(await walletOf(t, seller)).toBe('1500.00');
    const after = await ledgerBalances(t, codes);
    expect(after[walletCode(buyer)].minus(before[walletCode(buyer)]).toFixed(2)).toBe(total.negated().toFixed(2)); // −1800.00
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe(wholesale.toFixed(2)); // +1500.00
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe(total.minus(wholesale).toFixed(2)); // +300.00
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe('300.00');
    expectReconciled(before, after);

    // The buyer's credits, read through the API and from the block's own ledger account.
    const balance = await creditBalanceOf(t, buyer);
    expect(balance).toMatchObject({ available: '1000.000000', held: '0.000000', frozen: '0.000000' });
    expect(balance.blocks).toHaveLength(1);
    expect(balance.blocks[0].id).toBe(p.block.id);
    expect((await ledgerBalance(t, blockAccountCode(p.block.id))).toFixed(6)).toBe('1000.000000');

    // The capacity came out of the listing.
    const listingAfter = await listingById(t, listing.id);
    expect(D(listingAfter.allocatedCredits).minus(listingBefore.allocatedCredits).toFixed(6)).toBe('1000.000000');
    expect(listingAfter).toMatchObject({ allocatedCredits: '1000.000000', availableCredits: '9000.000000', status: 'OPEN' });
    expect((await ledgerBalance(t, listingAccountCode(listing.id))).toFixed(6)).toBe('9000.000000');
  });
});

describe('the price follows utilization before the order and the time of day', () => {
  const app = appPerBlock();

  it('applies the demand multiplier from the utilization before each order, the night factor, and sells out', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    const listing = await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);

    const orders: { credits: string; u: string; night: boolean; at?: string }[] = [
      { credits: '600', u: '0', night: false },
      { credits: '100', u: '0.6', night: false }, // 600 / 1000 allocated before the order
      { credits: '150', u: '0.7', night: true, at: '2026-01-05T23:00:00.000Z' }, // night: [22, 6) UTC
      { credits: '150', u: '0.85', night: false, at: '2026-01-06T06:00:00.000Z' }, // 06:00 is day again
    ];
    let paid = D(0);
    for (const [i, o] of orders.entries()) {
      if (o.at) await advanceClock(t, o.at);
      const unit = expectedStandardUnit([[o.credits, '1.50']], o.u, o.night);
      const total = round2(D(o.credits).times(unit));
      const res = await buy(t, buyer, { credits: o.credits, idempotencyKey: `u-${i}` });
      expect(res.errors).toBeUndefined();
      expect(res.data.purchaseCredits).toMatchObject({ unitPrice: unit.toFixed(6), totalPrice: total.toFixed(2) });
      paid = paid.plus(total);
    }
    // Spot-check the arithmetic above against hand-computed figures.
    expect(expectedStandardUnit([['100', '1.50']], '0.6').toFixed(6)).toBe('1.980000');
    expect(expectedStandardUnit([['150', '1.50']], '0.7', true).toFixed(6)).toBe('1.944000');

    expect(await listingById(t, listing.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '1000.000000', availableCredits: '0.000000' });
    const after = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe(paid.toFixed(2));
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe('1500.00');
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe(paid.minus('1500.00').toFixed(2));
    expectReconciled(before, after);

    // Sold out: the next credit cannot be supplied, and nothing changes.
    const state = await marketState(t);
    const none = await buy(t, buyer, { credits: '1', idempotencyKey: 'u-none' });
    expect(none.code).toBe('INSUFFICIENT_CAPACITY');
    expect(none.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
  });
});

describe('a fill across listings', () => {
  const app = appPerBlock();

  it('takes the cheapest wholesale cost first, ties by earlier createdAt, and pays each seller its own wholesale', async () => {
    const t = app();
    const early = await register(t, 'SELLER', 'early-h100');
    const late = await register(t, 'SELLER', 'late-h100');
    const cheap = await register(t, 'SELLER', 'cheap-a100');
    // H100 at 1.50/credit listed first; one minute later the same price again, then an A100 at
    // 0.70/GPU-hour = 1.40/credit (0.5 credits per GPU-hour) holding 500 credits.
    const earlyListing = await createListing(t, early, { gpuHours: '2000', wholesalePricePerGpuHour: '1.50' });
    await advanceClock(t, '2026-01-05T12:01:00.000Z');
    const lateListing = await createListing(t, late, { gpuHours: '2000', wholesalePricePerGpuHour: '1.50' });
    const cheapListing = await createListing(t, cheap, { gpuType: 'A100', gpuHours: '1000', wholesalePricePerGpuHour: '0.70' });
    expect(cheapListing).toMatchObject({ totalCredits: '500.000000', wholesaleCostPerCredit: '1.400000' });
    expect(D(earlyListing.wholesaleCostPerCredit).eq(lateListing.wholesaleCostPerCredit)).toBe(true);

    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    const codes = [walletCode(buyer), walletCode(early), walletCode(late), walletCode(cheap), REVENUE];
    const before = await ledgerBalances(t, codes);

    // 1,500 credits: 500 × 1.40 (A100) + 1,000 × 1.50 (the earlier H100) = 2,200.00 wholesale.
    const unit1 = expectedStandardUnit([['500', '1.40'], ['1000', '1.50']], '0');
    const total1 = round2(D('1500').times(unit1));
    expect(unit1.toFixed(6)).toBe('1.760000'); // SPEC §5 example
    const first = await buy(t, buyer, { credits: '1500', idempotencyKey: 'fill-1' });
    expect(first.errors).toBeUndefined();
    expect(first.data.purchaseCredits).toMatchObject({ unitPrice: unit1.toFixed(6), totalPrice: total1.toFixed(2) });
    expect(total1.toFixed(2)).toBe('2640.00');

    const mid = await ledgerBalances(t, codes);
    expect(mid[walletCode(cheap)].minus(before[walletCode(cheap)]).toFixed(2)).toBe('700.00');
    expect(mid[walletCode(early)].minus(before[walletCode(early)]).toFixed(2)).toBe('1500.00');
    expect(mid[walletCode(late)].minus(before[walletCode(late)]).toFixed(2)).toBe('0.00');
    expect(mid[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe(total1.minus('2200.00').toFixed(2)); // 440.00
    expect(await listingById(t, cheapListing.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '500.000000' });
    expect(await listingById(t, earlyListing.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '1000.000000' });
    expect(await listingById(t, lateListing.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '0.000000' });

    // Next 1,500: u = 1,500 / 4,500 before the order; the earlier H100's last 1,000, then 500 of the later one.
    const u2 = D('1500').div('4500');
    const unit2 = expectedStandardUnit([['1000', '1.50'], ['500', '1.50']], u2);
    const total2 = round2(D('1500').times(unit2));
    const second = await buy(t, buyer, { credits: '1500', idempotencyKey: 'fill-2' });
    expect(second.errors).toBeUndefined();
    expect(second.data.purchaseCredits).toMatchObject({ unitPrice: unit2.toFixed(6), totalPrice: total2.toFixed(2) });

    const after = await ledgerBalances(t, codes);
    expect(after[walletCode(early)].minus(mid[walletCode(early)]).toFixed(2)).toBe('1500.00');
    expect(after[walletCode(late)].minus(mid[walletCode(late)]).toFixed(2)).toBe('750.00');
    expect(after[walletCode(cheap)].minus(mid[walletCode(cheap)]).toFixed(2)).toBe('0.00');
    expect(after[REVENUE].minus(mid[REVENUE]).toFixed(2)).toBe(total2.minus('2250.00').toFixed(2));
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe(total1.plus(total2).toFixed(2));
    expect(await listingById(t, earlyListing.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '2000.000000' });
    expect(await listingById(t, lateListing.id)).toMatchObject({ status: 'OPEN', allocatedCredits: '500.000000' });
    expectReconciled(before, after);
  });
});

describe('refusals change nothing', () => {
  const app = appPerBlock();
  let listingId: string;

  beforeAll(async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    listingId = (await createListing(t, seller, { gpuHours: '2000', wholesalePricePerGpuHour: '1.50' })).id;
  });

  it('INSUFFICIENT_FUNDS when the wallet is short; exactly enough succeeds and leaves 0.00', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1799.99');
    const state = await marketState(t);
    const txs = await ledgerTransactionCount(t);
    const res = await buy(t, buyer, { credits: '1000', idempotencyKey: 'short' });
    expect(res.code).toBe('INSUFFICIENT_FUNDS');
    expect(res.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
    expect(await ledgerTransactionCount(t)).toBe(txs);
    expect(await walletOf(t, buyer)).toBe('1799.99');
    expect((await listingById(t, listingId)).allocatedCredits).toBe('0.000000');
    expect((await creditBalanceOf(t, buyer)).blocks).toHaveLength(0);

    // One more cent: the same key now goes through (a refused request did not use up the key).
    await deposit(t, buyer, '0.01');
    const ok = await buy(t, buyer, { credits: '1000', idempotencyKey: 'short' });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.purchaseCredits.totalPrice).toBe('1800.00');
    expect(await walletOf(t, buyer)).toBe('0.00');
    expect((await ledgerBalance(t, walletCode(buyer))).toFixed(2)).toBe('0.00');
    expect((await listingById(t, listingId)).allocatedCredits).toBe('1000.000000');
  });

  it('INSUFFICIENT_CAPACITY when the market is short', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '100000.00');
    const state = await marketState(t);
    const res = await buy(t, buyer, { credits: '1000.000001', idempotencyKey: 'too-much' });
    expect(res.code).toBe('INSUFFICIENT_CAPACITY');
    expect(res.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
    expect(await walletOf(t, buyer)).toBe('100000.00');
    expect((await listingById(t, listingId)).availableCredits).toBe('1000.000000');
  });

  it('PRICE_LIMIT_EXCEEDED above maxUnitPrice; at the limit it goes through', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    // u = 1000 / 2000 = 0.5 before the order: still no demand premium.
    const unit = expectedStandardUnit([['100', '1.50']], '0.5');
    const state = await marketState(t);
    const res = await buy(t, buyer, { credits: '100', maxUnitPrice: unit.minus('0.000001').toFixed(6), idempotencyKey: 'limit' });
    expect(res.code).toBe('PRICE_LIMIT_EXCEEDED');
    expect(await marketState(t)).toEqual(state);
    const ok = await buy(t, buyer, { credits: '100', maxUnitPrice: unit.toFixed(6), idempotencyKey: 'limit-ok' });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.purchaseCredits).toMatchObject({ unitPrice: '1.800000', totalPrice: '180.00' });
    expect(await walletOf(t, buyer)).toBe('820.00');
  });
});

describe('idempotency', () => {
  const app = appPerBlock();
  let seller: Org;
  let listingId: string;

  beforeAll(async () => {
    const t = app();
    seller = await register(t, 'SELLER');
    listingId = (await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' })).id;
  });

  it('the same key and input twice is one purchase, charged once; a different input is IDEMPOTENCY_CONFLICT', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);

    const first = await buy(t, buyer, { credits: '1000', idempotencyKey: 'same-key' });
    expect(first.errors).toBeUndefined();
    const state = await marketState(t);
    const again = await buy(t, buyer, { credits: '1000', idempotencyKey: 'same-key' });
    expect(again.errors).toBeUndefined();
    expect(again.data.purchaseCredits).toEqual(first.data.purchaseCredits);
    expect(await marketState(t)).toEqual(state);

    const after = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe('1800.00');
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe('1500.00');
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe('300.00');
    expectReconciled(before, after);
    expect((await creditBalanceOf(t, buyer)).blocks).toHaveLength(1);
    expect((await listingById(t, listingId)).allocatedCredits).toBe('1000.000000');

    for (const input of [
      { credits: '999', idempotencyKey: 'same-key' },
      { credits: '1000', maxUnitPrice: '5', idempotencyKey: 'same-key' },
    ]) {
      const conflict = await buy(t, buyer, input);
      expect(conflict.code).toBe('IDEMPOTENCY_CONFLICT');
      expect(conflict.data).toBeNull();
      expect(await marketState(t)).toEqual(state);
    }
  });

  it('different buyers use the same key independently', async () => {
    const t = app();
    const a = await register(t, 'BUYER');
    const b = await register(t, 'BUYER');
    await deposit(t, a, '1000.00');
    await deposit(t, b, '1000.00');
    const ra = await buy(t, a, { credits: '100', idempotencyKey: 'shared' });
    const rb = await buy(t, b, { credits: '200', idempotencyKey: 'shared' });
    expect(ra.errors).toBeUndefined();
    expect(rb.errors).toBeUndefined();
    expect(ra.data.purchaseCredits.id).not.toBe(rb.data.purchaseCredits.id);
    // u stays far below 0.5 in this market: 1.800000 each.
    expect(await walletOf(t, a)).toBe('820.00');
    expect(await walletOf(t, b)).toBe('640.00');
    expect((await creditBalanceOf(t, a)).available).toBe('100.000000');
    expect((await creditBalanceOf(t, b)).available).toBe('200.000000');
  });

  it('one buyer racing with itself: 10 concurrent requests with one key are one purchase', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);
    const txs = await ledgerTransactionCount(t);
    const results = await Promise.all(Array.from({ length: 10 }, () => buy(t, buyer, { credits: '500', idempotencyKey: 'race' })));
    for (const r of results) expect(r.errors).toBeUndefined();
    const ids = new Set(results.map((r) => r.data.purchaseCredits.id));
    const blockIds = new Set(results.map((r) => r.data.purchaseCredits.block.id));
    expect(ids.size).toBe(1);
    expect(blockIds.size).toBe(1);
    expect(await walletOf(t, buyer)).toBe('9100.00');
    const after = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe('900.00');
    expectReconciled(before, after);
    expect(await ledgerTransactionCount(t)).toBe(txs + 1);
    const balance = await creditBalanceOf(t, buyer);
    expect(balance.blocks).toHaveLength(1);
    expect(balance.available).toBe('500.000000');
  });
});

describe('bad input is BAD_USER_INPUT and changes nothing', () => {
  const app = appPerBlock();
  let buyer: Org;

  beforeAll(async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '10000.00');
  });

  const BAD: unknown[] = ['0', '-1', '1.0000001', '1e3', 'NaN', 'Infinity', 'abc', '', 5, '123456789012345678901234567890', '-0', '+1', ' 1', '1.', '.5', '0x10', null];

  it.each(BAD.map((v) => [JSON.stringify(v), v]))('credits %s', async (_label, value) => {
    const t = app();
    const state = await marketState(t);
    const res = await buy(t, buyer, { credits: value, idempotencyKey: `bad-credits-${String(_label)}` });
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
  });

  it.each(BAD.filter((v) => v !== null).map((v) => [JSON.stringify(v), v]))('maxUnitPrice %s', async (_label, value) => {
    const t = app();
    const state = await marketState(t);
    const res = await buy(t, buyer, { credits: '10', maxUnitPrice: value, idempotencyKey: `bad-max-${String(_label)}` });
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
  });

  it('inline literals: a number, an exponent or too many decimals are BAD_USER_INPUT', async () => {
    const t = app();
    const state = await marketState(t);
    for (const literal of ['credits: 5', 'credits: "1e3"', 'credits: "1.0000001"', 'credits: "10", maxUnitPrice: 2', 'credits: "10", maxUnitPrice: "NaN"']) {
      const res = await t.gql(`mutation { purchaseCredits(input: { ${literal}, idempotencyKey: "lit" }) { id } }`, {}, buyer.key);
      expect({ literal, code: res.code }).toEqual({ literal, code: 'BAD_USER_INPUT' });
      expect(res.data).toBeNull();
    }
    expect(await marketState(t)).toEqual(state);
  });

  it('a missing idempotencyKey is a GraphQL validation error; an empty or blank one is BAD_USER_INPUT', async () => {
    const t = app();
    const state = await marketState(t);
    const literal = await t.gql(`mutation { purchaseCredits(input: { credits: "10" }) { id } }`, {}, buyer.key);
    expect(literal.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(literal.data).toBeNull();
    // Through variables the same omission fails variable coercion, which GraphQL reports as bad input.
    const variable = await buy(t, buyer, { credits: '10' });
    expect(variable.code).toBe('BAD_USER_INPUT');
    expect(variable.data).toBeNull();
    for (const key of ['', '   ', 'k'.repeat(201)]) {
      const res = await buy(t, buyer, { credits: '10', idempotencyKey: key });
      expect(res.code).toBe('BAD_USER_INPUT');
      expect(res.data).toBeNull();
    }
    expect(await marketState(t)).toEqual(state);
  });

  it('a purchase that would cost under a cent is BAD_USER_INPUT; one that rounds to a cent goes through', async () => {
    const t = app();
    const state = await marketState(t);
    // 0.002 × 1.80 = 0.0036 → 0.00; 0.000001 × 1.80 → 0.00.
    for (const credits of ['0.002', '0.000001']) {
      expect(round2(D(credits).times('1.80')).toFixed(2)).toBe('0.00');
      const res = await buy(t, buyer, { credits, idempotencyKey: `tiny-${credits}` });
      expect(res.code).toBe('BAD_USER_INPUT');
      expect(await marketState(t)).toEqual(state);
    }
    // 0.003 × 1.80 = 0.0054 → 0.01.
    const ok = await buy(t, buyer, { credits: '0.003', idempotencyKey: 'tiny-ok' });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.purchaseCredits).toMatchObject({ credits: '0.003000', totalPrice: usd(D('0.003').times('1.80')) });
    expect(await walletOf(t, buyer)).toBe('9999.99');
  });
});

describe('a buyer racing with itself for its own wallet', () => {
  const app = appPerBlock();

  it('funded for exactly 3 purchases, 10 concurrent purchases with distinct keys: 3 succeed, 7 INSUFFICIENT_FUNDS', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    const listing = await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    // 100 credits at 1.800000 (u stays below 0.5) = 180.00 each.
    const each = round2(D('100').times(expectedStandardUnit([['100', '1.50']], '0')));
    await deposit(t, buyer, each.times(3).toFixed(2));
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);

    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => buy(t, buyer, { credits: '100', idempotencyKey: `k-${i}` })));
    const ok = results.filter((r) => !r.errors);
    const refused = results.filter((r) => r.errors);
    expect(ok).toHaveLength(3);
    expect(refused.map((r) => r.code)).toEqual(Array(7).fill('INSUFFICIENT_FUNDS'));
    for (const r of ok) expect(r.data.purchaseCredits).toMatchObject({ unitPrice: '1.800000', totalPrice: each.toFixed(2) });
    expect(new Set(ok.map((r) => r.data.purchaseCredits.id)).size).toBe(3);

    expect(await walletOf(t, buyer)).toBe('0.00');
    const after = await ledgerBalances(t, codes);
    expect(after[walletCode(buyer)].toFixed(2)).toBe('0.00');
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe('450.00');
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe('90.00');
    expectReconciled(before, after);
    const balance = await creditBalanceOf(t, buyer);
    expect(balance.blocks).toHaveLength(3);
    expect(balance.available).toBe(cr(D('300')));
    expect((await listingById(t, listing.id)).allocatedCredits).toBe('300.000000');
  });
});

it('anonymous callers, sellers and the operator cannot purchase', async () => {
  const t = await startTestApp();
  try {
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '100', wholesalePricePerGpuHour: '1.50' });
    const input = { credits: '1', idempotencyKey: 'who' };
    expect((await t.gql(PURCHASE, { input }, null)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(PURCHASE, { input }, seller.key)).code).toBe('FORBIDDEN');
    expect((await t.gql(PURCHASE, { input }, OPERATOR_KEY)).code).toBe('FORBIDDEN');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  } finally {
    await t.close();
  }
});
