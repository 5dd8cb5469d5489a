/**
 * Reserved credits end to end (SPEC §4, §5, §6, §9, §10): the commitment is allocated at once,
 * one monthly block is delivered and charged now and on each anniversary by servicing, blocks
 * expire three months after delivery, unpaid deliveries go PAST_DUE and are retried, cancelling
 * charges the early termination fee and gives the undelivered capacity back.
 *
 * Each scenario that needs exact prices runs on its own app and database; expected numbers are
 * computed here with Decimal from the SPEC rules. Every scenario ends with a balanced ledger.
 */
import { blockAccountCode, listingAccountCode, platformAccountCode, reservationAccountCode } from '../apps/api/src/ledger/chart-of-accounts.js';
import { CLOCK_START, OPERATOR_KEY, type TestApp } from './support/app.js';
import {
  EXPIRED_CREDITS,
  ledgerBalance,
  ledgerBalances,
  ledgerTransactionCount,
  marketState,
  REVENUE,
  walletCode,
} from './support/db-probes.js';
import { createListing, listingById } from './support/drivers/listings.js';
import { creditBalanceOf } from './support/drivers/market.js';
import { advanceClock, appPerBlock } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { D, expectedStandardUnit, expectedTermDiscount, round2, round6 } from './support/oracles.js';

const RESERVATION_FIELDS = 'id creditsPerMonth termMonths unitPrice discountRate monthsDelivered status nextDeliveryAt earlyTerminationFee createdAt';
const RESERVE = `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { ${RESERVATION_FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelReservation(id: $id) { ${RESERVATION_FIELDS} } }`;

function reserveRaw(t: TestApp, buyer: Org, input: Record<string, unknown>) {
  return t.gql(RESERVE, { input }, buyer.key);
}

async function reserveOk(t: TestApp, buyer: Org, creditsPerMonth: string, termMonths: number, idempotencyKey = `r-${Math.random().toString(36).slice(2)}`) {
  const res = await reserveRaw(t, buyer, { creditsPerMonth, termMonths, idempotencyKey });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.reserveCredits;
}

async function reservationsOf(t: TestApp, key: string): Promise<any[]> {
  const res = await t.gql(`{ reservations { ${RESERVATION_FIELDS} } }`, {}, key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.reservations;
}

async function reservationOf(t: TestApp, buyer: Org, id: string): Promise<any> {
  const found = (await reservationsOf(t, buyer.key)).find((r) => r.id === id);
  if (!found) throw new Error(`reservation ${id} not visible to its buyer`);
  return found;
}

/** Blocks of one buyer, oldest first (the API order), RESERVED only. */
async function reservedBlocks(t: TestApp, buyer: Org): Promise<any[]> {
  return (await creditBalanceOf(t, buyer)).blocks.filter((b: any) => b.type === 'RESERVED');
}

/** The effective instants of a reservation's delivery transactions, in order. */
async function deliveryInstants(t: TestApp, reservationId: string): Promise<string[]> {
  const rows = await t.db.dataSource.query(
    `SELECT effective_at FROM ledger_transactions WHERE kind = 'reservation.delivery' AND metadata->>'reservationId' = $1 ORDER BY (metadata->>'month')::int`,
    [reservationId],
  );
  return rows.map((r: { effective_at: Date }) => new Date(r.effective_at).toISOString());
}

/**
 * The lowest balance a wallet ever had, replaying its entries in effective order: a charge
 * effective before the money that paid it arrived would show as a negative as-of balance.
 */
async function lowestAsOfBalance(t: TestApp, org: Org): Promise<string> {
  const [row] = await t.db.dataSource.query(
    `SELECT coalesce(min(running), 0)::text AS lowest FROM (
       SELECT sum(e.amount) OVER (ORDER BY e.effective_at, e.id) AS running
       FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id WHERE a.code = $1) x`,
    [walletCode(org)],
  );
  return D(row.lowest).toFixed(2);
}


function expectReconciled(before: Record<string, ReturnType<typeof D>>, after: Record<string, ReturnType<typeof D>>) {
  const sum = Object.keys(after).reduce((s, code) => s.plus(after[code].minus(before[code] ?? D(0))), D(0));
  expect(sum.toFixed(2)).toBe('0.00');
}

const iso = (s: string) => new Date(s).toISOString();

describe('reserve, deliver monthly, complete, expire', () => {
  const app = appPerBlock();
  let seller: Org;
  let buyer: Org;
  let listingId: string;
  let reservationId: string;
  let codes: string[];
  // 100 credits a month for 3 months from one H100 listing at 1.50/credit, u = 0, noon:
  // standard unit of the 300-credit commitment 1.800000 × (1 − 0.10) = 1.620000; 162.00 a month.
  const cpm = '100';
  const term = 3;
  const discount = expectedTermDiscount(term);
  const unit = round6(expectedStandardUnit([[D(cpm).times(term), '1.50']], '0').times(D(1).minus(discount)));
  const charge = round2(D(cpm).times(unit));
  const payout = round2(D(cpm).times('1.50'));

  beforeAll(async () => {
    const t = app();
    seller = await register(t, 'SELLER');
    listingId = (await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.50' })).id;
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    codes = [walletCode(buyer), walletCode(seller), REVENUE];
  });

  it('allocates the whole commitment at once and delivers and charges the first month now', async () => {
    const t = app();
    expect(unit.toFixed(6)).toBe('1.620000');
    expect(charge.toFixed(2)).toBe('162.00');
    const before = await ledgerBalances(t, codes);
    const r = await reserveOk(t, buyer, cpm, term, 'lifecycle');
    reservationId = r.id;
    expect(r).toMatchObject({
      creditsPerMonth: '100.000000',
      termMonths: 3,
      unitPrice: unit.toFixed(6),
      discountRate: discount.toFixed(2),
      monthsDelivered: 1,
      status: 'ACTIVE',
      nextDeliveryAt: '2026-02-05T12:00:00.000Z',
      // What cancelling now would cost (SPEC §6): 25% × 2 undelivered months × 100 × 1.62.
      earlyTerminationFee: '81.00',
      createdAt: CLOCK_START,
    });
    // The whole 300-credit commitment left the market; only 100 were delivered.
    expect(await listingById(t, listingId)).toMatchObject({ allocatedCredits: '300.000000', availableCredits: '700.000000', status: 'OPEN' });
    expect((await ledgerBalance(t, reservationAccountCode(r.id))).toFixed(6)).toBe('200.000000');

    const after = await ledgerBalances(t, codes);
    expect(after[walletCode(buyer)].minus(before[walletCode(buyer)]).toFixed(2)).toBe(charge.negated().toFixed(2));
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe(payout.toFixed(2)); // 150.00
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe(charge.minus(payout).toFixed(2)); // 12.00
    expectReconciled(before, after);
    expect(await walletOf(t, buyer)).toBe('838.00');

    const blocks = await reservedBlocks(t, buyer);
    expect(blocks).toEqual([
      expect.objectContaining({
        type: 'RESERVED',
        status: 'ACTIVE',
        granted: '100.000000',
        remaining: '100.000000',
        unitPrice: unit.toFixed(6),
        expiresAt: '2026-04-05T12:00:00.000Z',
        createdAt: CLOCK_START,
      }),
    ]);
    expect((await creditBalanceOf(t, buyer)).available).toBe('100.000000');
  });

  it('delivers nothing before the anniversary, one block on it, and nothing more when servicing runs again for the same instant', async () => {
    const t = app();
    const txs = await ledgerTransactionCount(t);
    await advanceClock(t, '2026-02-05T11:59:59.999Z');
    expect(await ledgerTransactionCount(t)).toBe(txs);
    expect(await reservationOf(t, buyer, reservationId)).toMatchObject({ monthsDelivered: 1, status: 'ACTIVE' });

    const before = await ledgerBalances(t, codes);
    await advanceClock(t, '2026-02-05T12:00:00.000Z');
    expect(await ledgerTransactionCount(t)).toBe(txs + 1);
    expect(await reservationOf(t, buyer, reservationId)).toMatchObject({
      monthsDelivered: 2,
      status: 'ACTIVE',
      nextDeliveryAt: '2026-03-05T12:00:00.000Z',
    });
    const after = await ledgerBalances(t, codes);
    expect(after[walletCode(buyer)].minus(before[walletCode(buyer)]).toFixed(2)).toBe(charge.negated().toFixed(2));
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe(payout.toFixed(2));
    expectReconciled(before, after);
    const blocks = await reservedBlocks(t, buyer);
    expect(blocks.map((b) => [b.createdAt, b.expiresAt, b.remaining])).toEqual([
      [CLOCK_START, '2026-04-05T12:00:00.000Z', '100.000000'],
      ['2026-02-05T12:00:00.000Z', '2026-05-05T12:00:00.000Z', '100.000000'],
    ]);
    // The allocation does not change as months are delivered.
    expect((await listingById(t, listingId)).allocatedCredits).toBe('300.000000');

    // Servicing idempotency: the same instant again, twice, changes nothing.
    const state = await marketState(t);
    await advanceClock(t, '2026-02-05T12:00:00.000Z');
    await advanceClock(t, '2026-02-05T12:00:00.000Z');
    expect(await marketState(t)).toEqual(state);
  });

  it('the last month completes the reservation; nextDeliveryAt becomes null', async () => {
    const t = app();
    await advanceClock(t, '2026-03-05T12:00:00.000Z');
    expect(await reservationOf(t, buyer, reservationId)).toMatchObject({ monthsDelivered: 3, status: 'COMPLETED', nextDeliveryAt: null });
    expect(await walletOf(t, buyer)).toBe(D('1000.00').minus(charge.times(3)).toFixed(2));
    expect((await ledgerBalance(t, reservationAccountCode(reservationId))).toFixed(6)).toBe('0.000000');
    expect((await creditBalanceOf(t, buyer)).available).toBe('300.000000');
    // Nothing further is ever delivered.
    const txs = await ledgerTransactionCount(t);
    await advanceClock(t, '2026-04-05T11:59:59.999Z');
    expect(await ledgerTransactionCount(t)).toBe(txs);
    expect(await reservedBlocks(t, buyer)).toHaveLength(3);
  });

  it('cancelling a COMPLETED reservation is INVALID_STATE', async () => {
    const t = app();
    const state = await marketState(t);
    const res = await t.gql(CANCEL, { id: reservationId }, buyer.key);
    expect(res.code).toBe('INVALID_STATE');
    expect(await marketState(t)).toEqual(state);
  });

  it('a monthly block expires 3 months after delivery: its remaining credits go to platform:expired:CREDIT', async () => {
    const t = app();
    const expiredBefore = await ledgerBalance(t, EXPIRED_CREDITS);
    await advanceClock(t, '2026-04-05T12:00:00.000Z');
    let blocks = await reservedBlocks(t, buyer);
    expect(blocks.map((b) => [b.status, b.remaining])).toEqual([
      ['EXPIRED', '0.000000'],
      ['ACTIVE', '100.000000'],
      ['ACTIVE', '100.000000'],
    ]);
    expect((await creditBalanceOf(t, buyer)).available).toBe('200.000000');
    expect((await ledgerBalance(t, EXPIRED_CREDITS)).minus(expiredBefore).toFixed(6)).toBe('100.000000');
    expect((await ledgerBalance(t, blockAccountCode(blocks[0].id))).toFixed(6)).toBe('0.000000');
    const [expiry] = await t.db.dataSource.query(`SELECT effective_at FROM ledger_transactions WHERE idempotency_key = $1`, [`block:${blocks[0].id}:expire`]);
    expect(new Date(expiry.effective_at).toISOString()).toBe('2026-04-05T12:00:00.000Z');

    // Running servicing again for the same instant expires nothing more.
    const state = await marketState(t);
    await advanceClock(t, '2026-04-05T12:00:00.000Z');
    expect(await marketState(t)).toEqual(state);

    await advanceClock(t, '2026-06-05T12:00:00.000Z');
    blocks = await reservedBlocks(t, buyer);
    expect(blocks.map((b) => b.status)).toEqual(['EXPIRED', 'EXPIRED', 'EXPIRED']);
    expect((await creditBalanceOf(t, buyer)).available).toBe('0.000000');
    expect((await ledgerBalance(t, EXPIRED_CREDITS)).minus(expiredBefore).toFixed(6)).toBe('300.000000');
  });
});

describe('a jump over several months', () => {
  const app = appPerBlock();

  it('delivers each missed month at its own anniversary, expires what is due, and completes', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    // 50 a month for 6 months: 1.80 × (1 − 0.15) = 1.530000; 76.50 a month; the seller gets 75.00.
    const discount = expectedTermDiscount(6);
    const unit = round6(expectedStandardUnit([['300', '1.50']], '0').times(D(1).minus(discount)));
    const charge = round2(D('50').times(unit));
    expect([discount.toFixed(2), unit.toFixed(6), charge.toFixed(2)]).toEqual(['0.15', '1.530000', '76.50']);
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);
    const r = await reserveOk(t, buyer, '50', 6);
    expect(r).toMatchObject({ unitPrice: unit.toFixed(6), discountRate: '0.15', monthsDelivered: 1 });

    await advanceClock(t, '2026-04-20T08:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 4, status: 'ACTIVE', nextDeliveryAt: '2026-05-05T12:00:00.000Z' });
    const blocks = await reservedBlocks(t, buyer);
    expect(blocks.map((b) => [b.createdAt, b.expiresAt, b.status])).toEqual([
      ['2026-01-05T12:00:00.000Z', '2026-04-05T12:00:00.000Z', 'EXPIRED'],
      ['2026-02-05T12:00:00.000Z', '2026-05-05T12:00:00.000Z', 'ACTIVE'],
      ['2026-03-05T12:00:00.000Z', '2026-06-05T12:00:00.000Z', 'ACTIVE'],
      ['2026-04-05T12:00:00.000Z', '2026-07-05T12:00:00.000Z', 'ACTIVE'],
    ]);
    expect(await deliveryInstants(t, r.id)).toEqual([
      '2026-01-05T12:00:00.000Z',
      '2026-02-05T12:00:00.000Z',
      '2026-03-05T12:00:00.000Z',
      '2026-04-05T12:00:00.000Z',
    ]);
    const mid = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(mid[walletCode(buyer)]).toFixed(2)).toBe(charge.times(4).toFixed(2));
    expect(mid[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe('300.00');
    expectReconciled(before, mid);
    expect((await creditBalanceOf(t, buyer)).available).toBe('150.000000');

    await advanceClock(t, '2026-12-31T00:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 6, status: 'COMPLETED', nextDeliveryAt: null });
    const all = await reservedBlocks(t, buyer);
    expect(all.map((b) => b.createdAt)).toEqual([
      '2026-01-05T12:00:00.000Z',
      '2026-02-05T12:00:00.000Z',
      '2026-03-05T12:00:00.000Z',
      '2026-04-05T12:00:00.000Z',
      '2026-05-05T12:00:00.000Z',
      '2026-06-05T12:00:00.000Z',
    ]);
    expect(all.every((b) => b.status === 'EXPIRED' && b.remaining === '0.000000')).toBe(true);
    expect((await ledgerBalance(t, EXPIRED_CREDITS)).toFixed(6)).toBe('300.000000');
    const after = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe(charge.times(6).toFixed(2));
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe('450.00');
    expectReconciled(before, after);
    expect(await lowestAsOfBalance(t, buyer)).not.toMatch(/^-/);
  });
});

describe('day-of-month clamping', () => {
  const app = appPerBlock();

  it('a reservation made on Jan 31 delivers on Feb 28 and Mar 31', async () => {
    const t = app();
    await advanceClock(t, '2026-01-31T12:00:00.000Z');
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const r = await reserveOk(t, buyer, '10', 3);
    expect(r).toMatchObject({ createdAt: '2026-01-31T12:00:00.000Z', nextDeliveryAt: '2026-02-28T12:00:00.000Z' });

    await advanceClock(t, '2026-02-28T11:59:59.999Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 1 });
    await advanceClock(t, '2026-02-28T12:00:00.000Z');
    // The anniversary stays the 31st: March's delivery is on the 31st, not the 28th.
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 2, nextDeliveryAt: '2026-03-31T12:00:00.000Z' });
    await advanceClock(t, '2026-03-28T12:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 2 });
    await advanceClock(t, '2026-03-31T12:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 3, status: 'COMPLETED', nextDeliveryAt: null });
    const blocks = await reservedBlocks(t, buyer);
    expect(blocks.map((b) => [b.createdAt, b.expiresAt])).toEqual([
      ['2026-01-31T12:00:00.000Z', '2026-04-30T12:00:00.000Z'],
      ['2026-02-28T12:00:00.000Z', '2026-05-28T12:00:00.000Z'],
      ['2026-03-31T12:00:00.000Z', '2026-06-30T12:00:00.000Z'],
    ]);
    const unit = round6(expectedStandardUnit([['30', '1.50']], '0').times(D(1).minus(expectedTermDiscount(3))));
    expect(await walletOf(t, buyer)).toBe(D('1000.00').minus(round2(D('10').times(unit)).times(3)).toFixed(2));
  });
});

describe('unpaid deliveries', () => {
  const app = appPerBlock();
  let seller: Org;
  // 100 a month at 1.620000 (3–5 month band, u stays low): 162.00 a month.
  const unit = round6(expectedStandardUnit([['300', '1.50']], '0').times(D(1).minus(expectedTermDiscount(3))));
  const charge = round2(D('100').times(unit));

  beforeAll(async () => {
    const t = app();
    seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
  });

  it('a first delivery the wallet cannot pay refuses the reservation: INSUFFICIENT_FUNDS, nothing changes', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, charge.minus('0.01').toFixed(2));
    const state = await marketState(t);
    const res = await reserveRaw(t, buyer, { creditsPerMonth: '100', termMonths: 3, idempotencyKey: 'poor' });
    expect(res.code).toBe('INSUFFICIENT_FUNDS');
    expect(res.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
    expect(await reservationsOf(t, buyer.key)).toEqual([]);
    expect(await walletOf(t, buyer)).toBe('161.99');

    // The refusal did not use up the key.
    await deposit(t, buyer, '0.01');
    const ok = await reserveRaw(t, buyer, { creditsPerMonth: '100', termMonths: 3, idempotencyKey: 'poor' });
    expect(ok.errors).toBeUndefined();
    expect(await walletOf(t, buyer)).toBe('0.00');
  });

  it('PAST_DUE when a delivery cannot be paid; retried at each servicing run; delivered after a deposit and ACTIVE again', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, charge.toFixed(2));
    const r = await reserveOk(t, buyer, '100', 3);
    expect(await walletOf(t, buyer)).toBe('0.00');

    const txs = await ledgerTransactionCount(t);
    await advanceClock(t, '2026-02-05T12:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'PAST_DUE', monthsDelivered: 1, nextDeliveryAt: '2026-02-05T12:00:00.000Z' });
    expect(await reservedBlocks(t, buyer)).toHaveLength(1);
    expect(await ledgerTransactionCount(t)).toBe(txs);

    // Still short (one cent): the next runs change nothing.
    await deposit(t, buyer, charge.minus('0.01').toFixed(2));
    const state = await marketState(t);
    await advanceClock(t, '2026-02-05T12:01:00.000Z');
    await advanceClock(t, '2026-02-05T12:01:00.000Z');
    expect(await marketState(t)).toEqual(state);
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'PAST_DUE', monthsDelivered: 1 });

    await deposit(t, buyer, '0.01');
    const codes = [walletCode(buyer), walletCode(seller), REVENUE];
    const before = await ledgerBalances(t, codes);
    await advanceClock(t, '2026-02-05T12:02:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'ACTIVE', monthsDelivered: 2, nextDeliveryAt: '2026-03-05T12:00:00.000Z' });
    const blocks = await reservedBlocks(t, buyer);
    expect(blocks).toHaveLength(2);
    // Delivered when it was paid, and expiring 3 months after that delivery.
    expect(blocks[1]).toMatchObject({ status: 'ACTIVE', granted: '100.000000', createdAt: '2026-02-05T12:02:00.000Z', expiresAt: '2026-05-05T12:02:00.000Z' });
    const after = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe(charge.toFixed(2));
    expect(after[walletCode(seller)].minus(before[walletCode(seller)]).toFixed(2)).toBe('150.00');
    expectReconciled(before, after);
    expect(await walletOf(t, buyer)).toBe('0.00');
    expect(await lowestAsOfBalance(t, buyer)).not.toMatch(/^-/);
  });

});

describe('catching up after PAST_DUE', () => {
  const app = appPerBlock();
  const unit = round6(expectedStandardUnit([['400', '1.50']], '0').times(D(1).minus(expectedTermDiscount(4))));
  const charge = round2(D('100').times(unit));

  it('never charges a month before the money that pays it arrived', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, charge.toFixed(2));
    const r = await reserveOk(t, buyer, '100', 4); // 4 months: same 3–5 band
    await advanceClock(t, '2026-03-05T12:00:00.000Z'); // month 2 (due Feb 5) unpaid → PAST_DUE
    await advanceClock(t, '2026-03-20T12:00:00.000Z'); // retried, still unpaid; month 3 was due Mar 5
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'PAST_DUE', monthsDelivered: 1 });

    await deposit(t, buyer, charge.times(2).toFixed(2)); // arrives Mar 20
    await advanceClock(t, '2026-03-20T12:01:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'ACTIVE', monthsDelivered: 3, nextDeliveryAt: '2026-04-05T12:00:00.000Z' });
    expect(await walletOf(t, buyer)).toBe('0.00');
    // Both overdue months are delivered when paid, not back-dated to before the deposit.
    const instants = await deliveryInstants(t, r.id);
    expect(instants.slice(1)).toEqual(['2026-03-20T12:01:00.000Z', '2026-03-20T12:01:00.000Z']);
    expect(await lowestAsOfBalance(t, buyer)).toBe('0.00');

    // Back on schedule afterwards: month 4 on its anniversary.
    await deposit(t, buyer, charge.toFixed(2));
    await advanceClock(t, '2026-04-05T12:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'COMPLETED', monthsDelivered: 4, nextDeliveryAt: null });
    expect((await deliveryInstants(t, r.id))[3]).toBe('2026-04-05T12:00:00.000Z');
  });
});

describe('cancelReservation', () => {
  const app = appPerBlock();
  let cheapSeller: Org;
  let otherSeller: Org;
  let buyer: Org;
  let cheapListing: any;
  let otherListing: any;
  let reservationId: string;
  // Two listings that the commitment sells out: H100 at 1.37/credit (300 credits) and A100 at
  // 0.70/GPU-hour = 1.40/credit (200 credits). 50 a month for 10 months = 500 credits:
  // 300 × 1.37 + 200 × 1.40 = 691.00 wholesale → 1.382 × 1.2 = 1.658400 × (1 − 0.15) = 1.409640.
  const cpm = D('50');
  const term = 10;
  const unit = round6(expectedStandardUnit([['300', '1.37'], ['200', '1.40']], '0').times(D(1).minus(expectedTermDiscount(term))));
  const charge = round2(cpm.times(unit));

  beforeAll(async () => {
    const t = app();
    cheapSeller = await register(t, 'SELLER');
    otherSeller = await register(t, 'SELLER');
    cheapListing = await createListing(t, cheapSeller, { gpuHours: '300', wholesalePricePerGpuHour: '1.37' });
    otherListing = await createListing(t, otherSeller, { gpuType: 'A100', gpuHours: '400', wholesalePricePerGpuHour: '0.70' });
    buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
  });

  it('sells out both listings and delivers two months', async () => {
    const t = app();
    expect([unit.toFixed(6), charge.toFixed(2)]).toEqual(['1.409640', '70.48']);
    const r = await reserveOk(t, buyer, '50', term);
    reservationId = r.id;
    expect(r).toMatchObject({ unitPrice: unit.toFixed(6), discountRate: '0.15' });
    expect(await listingById(t, cheapListing.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '300.000000' });
    expect(await listingById(t, otherListing.id)).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '200.000000' });
    await advanceClock(t, '2026-02-05T12:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ monthsDelivered: 2, status: 'ACTIVE' });
    expect(await walletOf(t, buyer)).toBe(D('1000.00').minus(charge.times(2)).toFixed(2));
  });

  it("another buyer cannot cancel it (NOT_FOUND), nor can a seller (FORBIDDEN); an unknown id is NOT_FOUND", async () => {
    const t = app();
    const other = await register(t, 'BUYER');
    await deposit(t, other, '1000.00');
    const state = await marketState(t);
    expect((await t.gql(CANCEL, { id: reservationId }, other.key)).code).toBe('NOT_FOUND');
    expect((await t.gql(CANCEL, { id: reservationId }, cheapSeller.key)).code).toBe('FORBIDDEN');
    expect((await t.gql(CANCEL, { id: '00000000-0000-4000-8000-000000000000' }, buyer.key)).code).toBe('NOT_FOUND');
    expect((await t.gql(CANCEL, { id: 'not-an-id' }, buyer.key)).code).toBe('NOT_FOUND');
    expect(await marketState(t)).toEqual(state);
  });

  it('charges 25% × undelivered months × creditsPerMonth × unit price and gives the undelivered capacity back', async () => {
    const t = app();
    const codes = [walletCode(buyer), walletCode(cheapSeller), walletCode(otherSeller), REVENUE];
    const before = await ledgerBalances(t, codes);
    const undeliveredMonths = term - 2;
    const fee = round2(D('0.25').times(undeliveredMonths).times(cpm).times(unit));
    expect(fee.toFixed(2)).toBe('140.96'); // 140.964 → 140.96

    const res = await t.gql(CANCEL, { id: reservationId }, buyer.key);
    expect(res.errors).toBeUndefined();
    expect(res.data.cancelReservation).toMatchObject({
      id: reservationId,
      status: 'CANCELLED',
      earlyTerminationFee: fee.toFixed(2),
      nextDeliveryAt: null,
      monthsDelivered: 2,
    });
    expect(await reservationOf(t, buyer, reservationId)).toMatchObject({ status: 'CANCELLED', earlyTerminationFee: fee.toFixed(2), nextDeliveryAt: null });

    const after = await ledgerBalances(t, codes);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe(fee.toFixed(2));
    expect(after[REVENUE].minus(before[REVENUE]).toFixed(2)).toBe(fee.toFixed(2));
    expect(after[walletCode(cheapSeller)].minus(before[walletCode(cheapSeller)]).toFixed(2)).toBe('0.00');
    expect(after[walletCode(otherSeller)].minus(before[walletCode(otherSeller)]).toFixed(2)).toBe('0.00');
    expectReconciled(before, after);

    // 8 × 50 = 400 undelivered credits are back on the market; both listings are OPEN again and
    // each keeps exactly the credits that were delivered from it (and paid to its seller).
    const cheap = await listingById(t, cheapListing.id);
    const other = await listingById(t, otherListing.id);
    expect([cheap.status, other.status]).toEqual(['OPEN', 'OPEN']);
    expect(D(cheap.allocatedCredits).plus(other.allocatedCredits).toFixed(6)).toBe('100.000000');
    expect(D(cheap.availableCredits).plus(other.availableCredits).toFixed(6)).toBe('400.000000');
    expect(D(cheap.allocatedCredits).times('1.37').toFixed(2)).toBe((await ledgerBalance(t, walletCode(cheapSeller))).toFixed(2));
    expect(D(other.allocatedCredits).times('1.40').toFixed(2)).toBe((await ledgerBalance(t, walletCode(otherSeller))).toFixed(2));
    expect((await ledgerBalance(t, listingAccountCode(cheapListing.id))).toFixed(6)).toBe(cheap.availableCredits);
    expect((await ledgerBalance(t, listingAccountCode(otherListing.id))).toFixed(6)).toBe(other.availableCredits);
    expect((await ledgerBalance(t, reservationAccountCode(reservationId))).toFixed(6)).toBe('0.000000');
    // The delivered blocks stay the buyer's.
    expect((await creditBalanceOf(t, buyer)).available).toBe('100.000000');
  });

  it('cancelling twice is INVALID_STATE; no further deliveries; the released capacity can be bought', async () => {
    const t = app();
    const state = await marketState(t);
    expect((await t.gql(CANCEL, { id: reservationId }, buyer.key)).code).toBe('INVALID_STATE');
    expect(await marketState(t)).toEqual(state);
    await advanceClock(t, '2026-03-05T12:00:00.000Z');
    await advanceClock(t, '2026-06-05T12:00:00.000Z');
    const r = await reservationOf(t, buyer, reservationId);
    expect(r).toMatchObject({ status: 'CANCELLED', monthsDelivered: 2 });
    expect((await reservedBlocks(t, buyer)).length).toBe(2);

    const second = await register(t, 'BUYER');
    await deposit(t, second, '1000.00');
    const buy = await t.gql(`mutation { purchaseCredits(input: { credits: "400", idempotencyKey: "after-cancel" }) { unitPrice totalPrice } }`, {}, second.key);
    expect(buy.errors).toBeUndefined();
    expect((await listingById(t, cheapListing.id)).status).toBe('SOLD_OUT');
    expect((await listingById(t, otherListing.id)).status).toBe('SOLD_OUT');
  });
});

describe('cancelling a PAST_DUE reservation, and capacity whose listing has closed', () => {
  const app = appPerBlock();

  it('a PAST_DUE reservation can be cancelled once the wallet can pay the fee; the unpaid month counts as undelivered', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    const listing = await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER');
    const unit = round6(expectedStandardUnit([['300', '1.50']], '0').times(D(1).minus(expectedTermDiscount(3))));
    const charge = round2(D('100').times(unit));
    await deposit(t, buyer, charge.toFixed(2));
    const r = await reserveOk(t, buyer, '100', 3);
    await advanceClock(t, '2026-02-05T12:00:00.000Z');
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'PAST_DUE', monthsDelivered: 1 });

    const fee = round2(D('0.25').times(2).times('100').times(unit)); // 81.00
    const state = await marketState(t);
    const refused = await t.gql(CANCEL, { id: r.id }, buyer.key);
    expect(refused.code).toBe('INSUFFICIENT_FUNDS');
    expect(await marketState(t)).toEqual(state);

    await deposit(t, buyer, fee.toFixed(2));
    const before = await ledgerBalances(t, [walletCode(buyer), REVENUE]);
    const res = await t.gql(CANCEL, { id: r.id }, buyer.key);
    expect(res.errors).toBeUndefined();
    expect(res.data.cancelReservation).toMatchObject({ status: 'CANCELLED', earlyTerminationFee: fee.toFixed(2), nextDeliveryAt: null, monthsDelivered: 1 });
    const after = await ledgerBalances(t, [walletCode(buyer), REVENUE]);
    expect(before[walletCode(buyer)].minus(after[walletCode(buyer)]).toFixed(2)).toBe(fee.toFixed(2));
    expectReconciled(before, after);
    expect((await listingById(t, listing.id)).allocatedCredits).toBe('100.000000');
    // A cancelled reservation is never retried.
    const txs = await ledgerTransactionCount(t);
    await deposit(t, buyer, '1000.00');
    await advanceClock(t, '2026-03-05T12:00:00.000Z');
    expect(await ledgerTransactionCount(t)).toBe(txs + 1); // the deposit only
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'CANCELLED', monthsDelivered: 1 });
  });

  it('a month left unpaid until its listing window closed: cancelling then takes the undelivered capacity off the market', async () => {
    const t = app();
    const seller = await register(t, 'SELLER');
    // Cheaper than the first test's listing, so the reservation takes all of it. The clock is at
    // Mar 5 (after the test above); the window covers the Mar 5 and Apr 5 deliveries and closes
    // on Apr 10 (SPEC §6: each month from a listing open at its delivery).
    const listing = await createListing(t, seller, { gpuHours: '200', wholesalePricePerGpuHour: '1.20', availableUntil: '2026-04-10T00:00:00Z' });
    const buyer = await register(t, 'BUYER');
    const unit = round6(expectedStandardUnit([['200', '1.20']], '0').times(D(1).minus(expectedTermDiscount(2))));
    await deposit(t, buyer, round2(D('100').times(unit)).toFixed(2)); // the first month only
    const r = await reserveOk(t, buyer, '100', 2); // the whole listing
    expect(r.unitPrice).toBe(unit.toFixed(6));
    expect((await listingById(t, listing.id)).status).toBe('SOLD_OUT');
    expect(r.createdAt).toBe('2026-03-05T12:00:00.000Z');
    await advanceClock(t, '2026-04-12T12:00:00.000Z'); // Apr 5 unpaid; the window closed on Apr 10
    expect(await reservationOf(t, buyer, r.id)).toMatchObject({ status: 'PAST_DUE', monthsDelivered: 1 });
    await deposit(t, buyer, round2(D('0.25').times('100').times(unit)).toFixed(2)); // the fee
    const withdrawnBefore = await ledgerBalance(t, platformAccountCode('withdrawn'));

    const res = await t.gql(CANCEL, { id: r.id }, buyer.key);
    expect(res.errors).toBeUndefined();
    // The listing cannot take the 100 undelivered credits back onto the market.
    const view = await listingById(t, listing.id);
    expect(view.status).toBe('EXPIRED');
    expect(view.availableCredits).toBe('0.000000');
    // At once, not at the next servicing run: nothing of it is left where a purchase could take it.
    expect((await ledgerBalance(t, listingAccountCode(listing.id))).toFixed(6)).toBe('0.000000');
    expect((await ledgerBalance(t, platformAccountCode('withdrawn'))).minus(withdrawnBefore).toFixed(6)).toBe('100.000000');
    expect((await ledgerBalance(t, reservationAccountCode(r.id))).toFixed(6)).toBe('0.000000');
    const state = await marketState(t);
    await advanceClock(t, '2026-04-12T12:00:00.000Z');
    expect(await marketState(t)).toEqual(state);
    expect(await listingById(t, listing.id)).toMatchObject({ status: 'EXPIRED', allocatedCredits: '100.000000', availableCredits: '0.000000' });
    expect((await ledgerBalance(t, reservationAccountCode(r.id))).toFixed(6)).toBe('0.000000');
  });
});

describe('idempotency, discount bands, bad input and visibility', () => {
  const app = appPerBlock();
  let seller: Org;
  let listingId: string;
  let a: Org;
  let b: Org;

  beforeAll(async () => {
    const t = app();
    seller = await register(t, 'SELLER');
    // A large market: utilization stays far below 0.5, so the standard unit is 1.800000 throughout.
    // Its window covers every month of a 36-month term (SPEC §6).
    listingId = (await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50', availableUntil: '2029-12-31T00:00:00Z' })).id;
    a = await register(t, 'BUYER');
    b = await register(t, 'BUYER');
    await deposit(t, a, '10000.00');
    await deposit(t, b, '10000.00');
  });

  it('the same key and input twice is one reservation, charged once; a different input is IDEMPOTENCY_CONFLICT', async () => {
    const t = app();
    const unit = round6(D('1.80').times(D(1).minus(expectedTermDiscount(12))));
    expect(unit.toFixed(6)).toBe('1.350000');
    const walletBefore = await ledgerBalance(t, walletCode(a));
    const first = await reserveRaw(t, a, { creditsPerMonth: '100', termMonths: 12, idempotencyKey: 'same' });
    expect(first.errors).toBeUndefined();
    expect(first.data.reserveCredits).toMatchObject({ unitPrice: '1.350000', discountRate: '0.25' });
    const state = await marketState(t);
    const again = await reserveRaw(t, a, { creditsPerMonth: '100', termMonths: 12, idempotencyKey: 'same' });
    expect(again.errors).toBeUndefined();
    expect(again.data.reserveCredits).toEqual(first.data.reserveCredits);
    expect(await marketState(t)).toEqual(state);
    expect(walletBefore.minus(await ledgerBalance(t, walletCode(a))).toFixed(2)).toBe('135.00');
    expect((await listingById(t, listingId)).allocatedCredits).toBe('1200.000000');
    expect(await reservedBlocks(t, a)).toHaveLength(1);

    for (const input of [
      { creditsPerMonth: '101', termMonths: 12, idempotencyKey: 'same' },
      { creditsPerMonth: '100', termMonths: 11, idempotencyKey: 'same' },
    ]) {
      const conflict = await reserveRaw(t, a, input);
      expect(conflict.code).toBe('IDEMPOTENCY_CONFLICT');
      expect(await marketState(t)).toEqual(state);
    }
    // Another buyer may use the same key.
    const other = await reserveRaw(t, b, { creditsPerMonth: '10', termMonths: 1, idempotencyKey: 'same' });
    expect(other.errors).toBeUndefined();
    expect(other.data.reserveCredits.id).not.toBe(first.data.reserveCredits.id);
    expect(other.data.reserveCredits).toMatchObject({ discountRate: '0.05', unitPrice: '1.710000', status: 'COMPLETED', monthsDelivered: 1, nextDeliveryAt: null });
  });

  it('10 concurrent reserveCredits with one key are one reservation, charged once', async () => {
    const t = app();
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const txs = await ledgerTransactionCount(t);
    const listingBefore = await listingById(t, listingId);
    const input = { creditsPerMonth: '20', termMonths: 6, idempotencyKey: 'race' };
    const results = await Promise.all(Array.from({ length: 10 }, () => reserveRaw(t, buyer, input)));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data.reserveCredits.id)).size).toBe(1);
    // 20 × 1.80 × 0.85 = 20 × 1.530000 = 30.60, once; 120 credits allocated, once.
    expect(await walletOf(t, buyer)).toBe(D('1000.00').minus(round2(D('20').times('1.530000'))).toFixed(2));
    expect(D((await listingById(t, listingId)).allocatedCredits).minus(listingBefore.allocatedCredits).toFixed(6)).toBe('120.000000');
    expect(await reservedBlocks(t, buyer)).toHaveLength(1);
    expect(await reservationsOf(t, buyer.key)).toHaveLength(1);
    // The allocation and the first delivery: two ledger transactions.
    expect(await ledgerTransactionCount(t)).toBe(txs + 2);
  });

  it.each([1, 2, 3, 5, 6, 11, 12, 36])('term %i months gets the SPEC §5 discount band', async (term) => {
    const t = app();
    const discount = expectedTermDiscount(term);
    const r = await reserveOk(t, b, '1', term);
    expect(r).toMatchObject({ termMonths: term, discountRate: discount.toFixed(2), unitPrice: round6(D('1.80').times(D(1).minus(discount))).toFixed(6) });
  });

  it.each([
    ['termMonths 0', { creditsPerMonth: '10', termMonths: 0 }],
    ['termMonths 37', { creditsPerMonth: '10', termMonths: 37 }],
    ['termMonths -1', { creditsPerMonth: '10', termMonths: -1 }],
    ['termMonths 1.5', { creditsPerMonth: '10', termMonths: 1.5 }],
    ['termMonths "3"', { creditsPerMonth: '10', termMonths: '3' }],
    ['creditsPerMonth "0"', { creditsPerMonth: '0', termMonths: 3 }],
    ['creditsPerMonth "-1"', { creditsPerMonth: '-1', termMonths: 3 }],
    ['creditsPerMonth 7 decimals', { creditsPerMonth: '1.0000001', termMonths: 3 }],
    ['creditsPerMonth "1e3"', { creditsPerMonth: '1e3', termMonths: 3 }],
    ['creditsPerMonth 5 (a JSON number)', { creditsPerMonth: 5, termMonths: 3 }],
    ['creditsPerMonth "abc"', { creditsPerMonth: 'abc', termMonths: 3 }],
    ['a monthly delivery under a cent', { creditsPerMonth: '0.002', termMonths: 3 }],
    ['an empty idempotencyKey', { creditsPerMonth: '10', termMonths: 3, idempotencyKey: '' }],
  ])('%s is BAD_USER_INPUT and changes nothing', async (_label, input) => {
    const t = app();
    const state = await marketState(t);
    const res = await reserveRaw(t, a, { idempotencyKey: `bad-${_label}`, ...input });
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(await marketState(t)).toEqual(state);
  });

  it('more than the market holds is INSUFFICIENT_CAPACITY and changes nothing', async () => {
    const t = app();
    const state = await marketState(t);
    const res = await reserveRaw(t, a, { creditsPerMonth: '100000', termMonths: 12, idempotencyKey: 'huge' });
    expect(res.code).toBe('INSUFFICIENT_CAPACITY');
    expect(await marketState(t)).toEqual(state);
  });

  it('a buyer sees only its own reservations; the operator sees all; sellers and anonymous callers cannot read them', async () => {
    const t = app();
    const idsOf = async (buyerId: string | null): Promise<string[]> =>
      (await t.db.dataSource.query(`SELECT id FROM reservations WHERE $1::uuid IS NULL OR buyer_id = $1::uuid ORDER BY id`, [buyerId])).map((r: { id: string }) => r.id);
    const mine = await reservationsOf(t, a.key);
    const theirs = await reservationsOf(t, b.key);
    expect(mine.map((r) => r.id).sort()).toEqual(await idsOf(a.id));
    expect(theirs.map((r) => r.id).sort()).toEqual(await idsOf(b.id));
    expect(mine.length).toBe(1);
    expect(theirs.length).toBe(9);
    const all = await reservationsOf(t, OPERATOR_KEY);
    expect(all.map((r) => r.id).sort()).toEqual(await idsOf(null));
    expect(all.length).toBeGreaterThan(mine.length + theirs.length); // the race buyer's too
    const fresh = await register(t, 'BUYER');
    expect(await reservationsOf(t, fresh.key)).toEqual([]);
    expect((await t.gql(`{ reservations { id } }`, {}, seller.key)).code).toBe('FORBIDDEN');
    expect((await t.gql(`{ reservations { id } }`, {}, null)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(RESERVE, { input: { creditsPerMonth: '1', termMonths: 1, idempotencyKey: 'op' } }, OPERATOR_KEY)).code).toBe('FORBIDDEN');
  });
});

it('the SPEC example numbers hold for the helpers used above', () => {
  expect(iso('2026-01-05T12:00:00Z')).toBe(CLOCK_START);
  expect(expectedStandardUnit([['1000', '1.50']], '0').toFixed(6)).toBe('1.800000');
  expect(expectedStandardUnit([['500', '1.40'], ['1000', '1.50']], '0').toFixed(6)).toBe('1.760000');
});
