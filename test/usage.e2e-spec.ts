import { randomUUID } from 'node:crypto';
import { Decimal } from '@ccx/core';
import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { blockAccount, CONSUMED, EXPIRED_CREDITS, ledgerBalance, marketState, usageEventsOf } from './support/db-probes.js';
import { acceptOk, clockTo, facilityOf, offerOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { fundedBuyer, purchase, reserve } from './support/drivers/market.js';
import { clockNow, integrity } from './support/drivers/operator.js';
import { type Org, register, suspend } from './support/drivers/organizations.js';
import { recordUsage, recordUsageOk, upsertGpuType, upsertModel, usageReport } from './support/drivers/usage.js';
import { deposit } from './support/drivers/wallets.js';
import { D, expectedFee, expectedGpuCost, expectedTokenCost, GPU_CATALOG, h100For, monthsAfter, plusDays } from './support/oracles.js';

/**
 * SPEC §6 and §8 through GraphQL `recordUsage` and `usageReport`: rating to the micro-credit, the
 * burn-down order across STANDARD, RESERVED and FINANCED blocks (frozen and expired ones skipped),
 * refusals, duplicates, races for one balance, and reports reconciled to the ledger.
 *
 * Scenarios that move the business clock far (a facility's default, a block's expiry) come last.
 */

let t: TestApp;
let seller: Org;
let lender: Org;

beforeAll(async () => {
  t = await startTestApp();
  seller = await register(t, 'SELLER');
  // Deep enough that utilization stays ~0: every standard credit costs 1.80, every financed one 1.50.
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
  lender = await register(t, 'LENDER');
  await deposit(t, lender, '1000000.00');
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const sum = (values: (string | Decimal)[]) => values.reduce<Decimal>((s, v) => s.plus(v), D(0));
const cr = (v: Decimal | string) => D(v).toFixed(6);
let seq = 0;
const ev = (prefix = 'ev') => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;

interface BlockView {
  id: string;
  type: string;
  status: string;
  granted: string;
  remaining: string;
  held: string;
  expiresAt: string | null;
  createdAt: string;
}
interface BalanceView {
  available: string;
  held: string;
  frozen: string;
  blocks: BlockView[];
}

async function balanceOf(buyer: Org): Promise<BalanceView> {
  const res = await t.gql(
    `{ creditBalance { available held frozen blocks { id type status granted remaining held expiresAt createdAt } } }`,
    {},
    buyer.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance;
}

const consumed = () => ledgerBalance(t, CONSUMED);

/** What a refused call must leave untouched: the whole market and ledger, and every usage event. */
async function usageState(): Promise<Record<string, unknown>> {
  return {
    market: await marketState(t),
    events: await t.db.dataSource.query(`SELECT organization_id, event_id, credits::text FROM usage_events ORDER BY id`),
  };
}

/** A FINANCED block for `buyer`: principal − 2% fee buys credits at 1.50 wholesale (SPEC §7). */
async function financedBlock(buyer: Org, principal: string, termMonths = 12): Promise<{ facility: any; credits: Decimal }> {
  const offered = await offerOk(t, lender, { borrowerId: buyer.id, principal, apr: '0.12', termMonths });
  const facility = await acceptOk(t, buyer, offered.id);
  const fee = D(expectedFee(principal));
  const credits = D(principal).minus(fee).div('1.50').decimalPlaces(6, Decimal.ROUND_DOWN);
  expect(facility.creditBlock).toMatchObject({ type: 'FINANCED', status: 'ACTIVE', granted: cr(credits), remaining: cr(credits) });
  expect(facility.creditBlock.expiresAt).toBe(monthsAfter(facility.acceptedAt, termMonths).toISOString());
  return { facility, credits };
}

async function blockRemaining(blockId: string): Promise<string> {
  return cr(await ledgerBalance(t, blockAccount(blockId)));
}

describe('rating (SPEC §8)', () => {
  it('charges token events at the rate card, to the micro-credit, rounding UP', async () => {
    await upsertModel(t, 'rate-llama', '0.5', '1.5');
    await upsertModel(t, 'rate-odd', '0.3', '2.7');
    await upsertModel(t, 'rate-big', '3.25', '15.75');
    const rates: Record<string, [string, string]> = { 'rate-llama': ['0.5', '1.5'], 'rate-odd': ['0.3', '2.7'], 'rate-big': ['3.25', '15.75'] };
    const buyer = await fundedBuyer(t, ['10']);
    const cases: [string, number, number, string][] = [
      // 1 token at 0.5 per million is 0.0000005 credits: a tiny call never costs zero.
      ['rate-llama', 1, 0, '0.000001'],
      ['rate-llama', 0, 1, '0.000002'],
      ['rate-llama', 1000, 500, '0.001250'],
      ['rate-llama', 2_000_000, 0, '1.000000'],
      // 3 × 0.3 + 7 × 2.7 = 19.8 per million = 0.0000198, up to 0.000020.
      ['rate-odd', 3, 7, '0.000020'],
      ['rate-odd', 1_000_001, 0, '0.300001'],
      ['rate-big', 1_234_567, 89_012, '5.414282'],
    ];
    const consumedBefore = await consumed();
    const charged: Decimal[] = [];
    for (const [model, inputTokens, outputTokens, literal] of cases) {
      const expected = expectedTokenCost(inputTokens, outputTokens, ...rates[model]);
      expect(cr(expected)).toBe(literal);
      const eventId = ev('tok');
      const input: Record<string, unknown> = { organizationId: buyer.id, eventId, model };
      if (inputTokens) input.inputTokens = inputTokens;
      if (outputTokens) input.outputTokens = outputTokens;
      expect(await recordUsageOk(t, input)).toEqual({ eventId, credits: literal, duplicate: false });
      charged.push(expected);
    }
    const total = sum(charged);
    expect((await consumed()).minus(consumedBefore).toFixed(6)).toBe(cr(total));
    const balance = await balanceOf(buyer);
    expect(balance).toMatchObject({ available: cr(D(10).minus(total)), held: '0.000000', frozen: '0.000000' });
    expect(balance.blocks).toHaveLength(1);
    expect(balance.blocks[0]).toMatchObject({ status: 'ACTIVE', remaining: cr(D(10).minus(total)) });
    expect(await blockRemaining(balance.blocks[0].id)).toBe(cr(D(10).minus(total)));
    // Each event carries its tokens, the rate it was charged at, and the charge.
    const stored = await usageEventsOf(t, buyer);
    expect(stored.map((e) => [e.model, Number(e.input_tokens), Number(e.output_tokens), D(e.input_rate).toFixed(), D(e.output_rate).toFixed(), cr(e.credits)])).toEqual(
      cases.map(([model, i, o, literal]) => [model, i, o, D(rates[model][0]).toFixed(), D(rates[model][1]).toFixed(), literal]),
    );
    expect(stored.every((e) => e.gpu_type === null && e.gpu_seconds === null && e.credits_per_gpu_hour === null)).toBe(true);
  });

  it("charges GPU time by the type's creditsPerGpuHour, for every catalog type and an operator-added one", async () => {
    await upsertGpuType(t, 'RATE-X1', '0.123456');
    const catalog: Record<string, string> = { ...GPU_CATALOG, 'RATE-X1': '0.123456' };
    const listed = await t.gql(`{ gpuTypes { name creditsPerGpuHour } }`);
    for (const [name, rate] of Object.entries(catalog)) {
      expect(D(listed.data.gpuTypes.find((g: { name: string }) => g.name === name).creditsPerGpuHour).eq(rate)).toBe(true);
    }
    const buyer = await fundedBuyer(t, ['20']);
    const cases: [string, string, string][] = [
      ['H100', '3600', '1.000000'],
      ['H200', '1800', '0.700000'],
      ['B200', '90', '0.055000'],
      // 1 s of A100 is 0.000138888… credits: up to 0.000139.
      ['A100', '1', '0.000139'],
      ['L40S', '7.5', '0.000730'],
      ['L40S', '36000.000001', '3.500001'],
      ['H200', '0.000001', '0.000001'],
      ['RATE-X1', '12.345678', '0.000424'],
      ['RATE-X1', '3600', '0.123456'],
    ];
    const consumedBefore = await consumed();
    const charged: Decimal[] = [];
    for (const [gpuType, gpuSeconds, literal] of cases) {
      const expected = expectedGpuCost(gpuSeconds, catalog[gpuType]);
      expect(cr(expected)).toBe(literal);
      const eventId = ev('gpu');
      expect(await recordUsageOk(t, { organizationId: buyer.id, eventId, gpuType, gpuSeconds })).toEqual({ eventId, credits: literal, duplicate: false });
      charged.push(expected);
    }
    const total = sum(charged);
    expect((await consumed()).minus(consumedBefore).toFixed(6)).toBe(cr(total));
    expect((await balanceOf(buyer)).available).toBe(cr(D(20).minus(total)));
    const stored = await usageEventsOf(t, buyer);
    expect(stored.map((e) => [e.gpu_type, D(e.gpu_seconds).toFixed(), D(e.credits_per_gpu_hour).toFixed(), cr(e.credits)])).toEqual(
      cases.map(([g, s, literal]) => [g, D(s).toFixed(), D(catalog[g]).toFixed(), literal]),
    );
    expect(stored.every((e) => e.model === null && e.input_rate === null && e.output_rate === null)).toBe(true);
  });

  it('keeps the rate on the event: changing the rate card later alters neither the stored event nor the report', async () => {
    await upsertModel(t, 'rate-change', '1', '2');
    await upsertGpuType(t, 'RATE-Z9', '2.5');
    const buyer = await fundedBuyer(t, ['50']);
    const day = { from: '2026-01-05T00:00:00Z', to: '2026-01-06T00:00:00Z' };
    const tok = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'old-tok', model: 'rate-change', inputTokens: 100_000, outputTokens: 50_000 });
    const gpu = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'old-gpu', gpuType: 'RATE-Z9', gpuSeconds: '1440' });
    expect(tok.credits).toBe(cr(expectedTokenCost(100_000, 50_000, '1', '2')));
    expect(gpu.credits).toBe(cr(expectedGpuCost('1440', '2.5')));
    const storedBefore = await usageEventsOf(t, buyer);
    const reportBefore = (await usageReport(t, { ...day, groupBy: 'MODEL' }, buyer.key)).data.usageReport;
    expect(reportBefore).toEqual([
      { key: 'gpu:RATE-Z9', events: 1, credits: '1.000000' },
      { key: 'rate-change', events: 1, credits: '0.200000' },
    ]);

    await upsertModel(t, 'rate-change', '7', '9');
    await upsertGpuType(t, 'RATE-Z9', '0.5');
    expect(await usageEventsOf(t, buyer)).toEqual(storedBefore);
    expect(storedBefore.map((e) => [e.event_id, e.input_rate && D(e.input_rate).toFixed(), e.output_rate && D(e.output_rate).toFixed(), e.credits_per_gpu_hour && D(e.credits_per_gpu_hour).toFixed()])).toEqual([
      ['old-tok', '1', '2', null],
      ['old-gpu', null, null, '2.5'],
    ]);
    expect((await usageReport(t, { ...day, groupBy: 'MODEL' }, buyer.key)).data.usageReport).toEqual(reportBefore);
    // A replay of an old event is the first result, not a re-rating.
    expect(await recordUsageOk(t, { organizationId: buyer.id, eventId: 'old-tok', model: 'rate-change', inputTokens: 100_000, outputTokens: 50_000 })).toEqual({
      eventId: 'old-tok',
      credits: '0.200000',
      duplicate: true,
    });
    // New events use the new rates.
    const consumedBefore = await consumed();
    const newTok = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'new-tok', model: 'rate-change', inputTokens: 100_000, outputTokens: 50_000 });
    const newGpu = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'new-gpu', gpuType: 'RATE-Z9', gpuSeconds: '1440' });
    expect(newTok.credits).toBe(cr(expectedTokenCost(100_000, 50_000, '7', '9')));
    expect(newGpu.credits).toBe(cr(expectedGpuCost('1440', '0.5')));
    expect((await consumed()).minus(consumedBefore).toFixed(6)).toBe(cr(D(newTok.credits).plus(newGpu.credits)));
    expect((await usageReport(t, { ...day, groupBy: 'MODEL' }, buyer.key)).data.usageReport).toEqual([
      { key: 'gpu:RATE-Z9', events: 2, credits: cr(D('1').plus(newGpu.credits)) },
      { key: 'rate-change', events: 2, credits: cr(D('0.2').plus(newTok.credits)) },
    ]);
    expect((await balanceOf(buyer)).available).toBe(cr(D(50).minus('1.2').minus(newTok.credits).minus(newGpu.credits)));
  });
});

describe('burn-down (SPEC §6)', () => {
  it('soonest expiry first, no expiry last, oldest first among equals; all or nothing across blocks; empty blocks become EXHAUSTED', async () => {
    const buyer = await fundedBuyer(t, ['3']);
    await reserve(t, buyer, '5', 1);
    const { facility, credits: financed } = await financedBlock(buyer, '150.00');
    expect(financed.toFixed(6)).toBe('98.000000');
    const now = await clockNow(t);
    await clockTo(t, new Date(now.getTime() + 60_000).toISOString());
    expect((await purchase(t, buyer, '4')).errors).toBeUndefined();

    const initial = await balanceOf(buyer);
    const byType = (type: string) => initial.blocks.filter((b) => b.type === type);
    const [s1, s2] = byType('STANDARD').sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    const [r] = byType('RESERVED');
    const f = byType('FINANCED')[0];
    expect(f.id).toBe(facility.creditBlock.id);
    expect([s1.granted, s2.granted, r.granted, f.granted]).toEqual(['3.000000', '4.000000', '5.000000', '98.000000']);
    expect(Date.parse(s1.createdAt)).toBeLessThan(Date.parse(s2.createdAt));
    expect(s1.expiresAt).toBeNull();
    expect(s2.expiresAt).toBeNull();
    // The reserved month expires 3 months after delivery, before the financed block's maturity.
    expect(r.expiresAt).toBe(monthsAfter(now, 3).toISOString());
    expect(Date.parse(r.expiresAt!)).toBeLessThan(Date.parse(f.expiresAt!));
    expect(initial.available).toBe('110.000000');

    const order = [r, f, s1, s2];
    const remaining = async () => {
      const b = await balanceOf(buyer);
      const view = order.map((x) => b.blocks.find((y) => y.id === x.id)!);
      // Every block's remaining is its ledger account's balance.
      for (const v of view) expect(await blockRemaining(v.id)).toBe(v.remaining);
      return { available: b.available, blocks: view.map((v) => [v.remaining, v.status]) };
    };
    const charge = async (credits: string) => {
      const before = await consumed();
      const eventId = ev('burn');
      const res = await recordUsage(t, { organizationId: buyer.id, eventId, ...h100For(credits) });
      if (!res.errors) {
        expect(res.data.recordUsage).toEqual({ eventId, credits: cr(credits), duplicate: false });
        expect((await consumed()).minus(before).toFixed(6)).toBe(cr(credits));
      }
      return res;
    };

    expect((await charge('2')).errors).toBeUndefined();
    expect(await remaining()).toEqual({
      available: '108.000000',
      blocks: [['3.000000', 'ACTIVE'], ['98.000000', 'ACTIVE'], ['3.000000', 'ACTIVE'], ['4.000000', 'ACTIVE']],
    });
    expect((await charge('3')).errors).toBeUndefined();
    expect(await remaining()).toEqual({
      available: '105.000000',
      blocks: [['0.000000', 'EXHAUSTED'], ['98.000000', 'ACTIVE'], ['3.000000', 'ACTIVE'], ['4.000000', 'ACTIVE']],
    });
    // One event across two blocks: the rest of the financed block, then the older standard one.
    expect((await charge('100')).errors).toBeUndefined();
    expect(await remaining()).toEqual({
      available: '5.000000',
      blocks: [['0.000000', 'EXHAUSTED'], ['0.000000', 'EXHAUSTED'], ['1.000000', 'ACTIVE'], ['4.000000', 'ACTIVE']],
    });
    const [spanning] = await t.db.dataSource.query(
      `SELECT array_agg(a.code || '=' || (e.amount)::text ORDER BY a.code) AS legs FROM usage_events u
       JOIN ledger_entries e ON e.transaction_id = u.ledger_transaction_id JOIN ledger_accounts a ON a.id = e.account_id
       WHERE u.organization_id = $1 AND u.credits = 100`,
      [buyer.id],
    );
    expect(spanning.legs.map((l: string) => l.replace(/=(-?)([0-9.]+)$/, (_m, s, n) => `=${s}${D(n).toFixed(6)}`)).sort()).toEqual(
      [`${blockAccount(f.id)}=-98.000000`, `${blockAccount(s1.id)}=-2.000000`, `${CONSUMED}=100.000000`].sort(),
    );

    // 6 credits are more than the 5 left: nothing is charged, not even in part.
    const before = await usageState();
    const refused = await charge('6');
    expect(refused.code).toBe('INSUFFICIENT_CREDITS');
    expect(refused.data).toBeNull();
    expect(await usageState()).toEqual(before);

    expect((await charge('5')).errors).toBeUndefined();
    expect(await remaining()).toEqual({
      available: '0.000000',
      blocks: [['0.000000', 'EXHAUSTED'], ['0.000000', 'EXHAUSTED'], ['0.000000', 'EXHAUSTED'], ['0.000000', 'EXHAUSTED']],
    });
    expect((await charge('0.000001')).code).toBe('INSUFFICIENT_CREDITS');
    const events = await usageEventsOf(t, buyer);
    expect(events.map((e) => cr(e.credits))).toEqual(['2.000000', '3.000000', '100.000000', '5.000000']);
  });
});

describe('recordUsage refusals', () => {
  it('refuses what it must with the right code and charges nothing', async () => {
    await upsertModel(t, 'refuse-model', '1', '1');
    const buyer = await fundedBuyer(t, ['10']);
    const suspended = await fundedBuyer(t, ['10']);
    await suspend(t, suspended);
    const buyerSeller = await register(t, 'SELLER');
    const someLender = await register(t, 'LENDER');
    const operator = (await t.gql(`{ me { id } }`, {}, OPERATOR_KEY)).data.me.id;
    const gpu = { gpuType: 'H100', gpuSeconds: '36' };
    const tok = { model: 'refuse-model', inputTokens: 10 };
    const cases: [string, Record<string, unknown>, string, string | null][] = [
      ['a SUSPENDED buyer', { organizationId: suspended.id, ...gpu }, 'FORBIDDEN', OPERATOR_KEY],
      ['an unknown organization', { organizationId: randomUUID(), ...gpu }, 'NOT_FOUND', OPERATOR_KEY],
      ['a malformed organization id', { organizationId: 'not-an-id', ...gpu }, 'NOT_FOUND', OPERATOR_KEY],
      ['a seller organization', { organizationId: buyerSeller.id, ...gpu }, 'NOT_FOUND', OPERATOR_KEY],
      ['a lender organization', { organizationId: someLender.id, ...gpu }, 'NOT_FOUND', OPERATOR_KEY],
      ['the operator organization', { organizationId: operator, ...gpu }, 'NOT_FOUND', OPERATOR_KEY],
      ['an unknown model', { organizationId: buyer.id, model: 'no-such-model', inputTokens: 10 }, 'NOT_FOUND', OPERATOR_KEY],
      ['an unknown GPU type', { organizationId: buyer.id, gpuType: 'NO-SUCH-GPU', gpuSeconds: '36' }, 'NOT_FOUND', OPERATOR_KEY],
      ['both model and gpuType', { organizationId: buyer.id, ...tok, ...gpu }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['neither model nor gpuType', { organizationId: buyer.id, inputTokens: 10 }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['zero tokens', { organizationId: buyer.id, model: 'refuse-model', inputTokens: 0, outputTokens: 0 }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['no tokens at all', { organizationId: buyer.id, model: 'refuse-model' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['negative input tokens', { organizationId: buyer.id, model: 'refuse-model', inputTokens: -1, outputTokens: 5 }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['negative output tokens', { organizationId: buyer.id, model: 'refuse-model', inputTokens: 5, outputTokens: -5 }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['tokens with a gpuType', { organizationId: buyer.id, ...gpu, inputTokens: 5 }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds with a model', { organizationId: buyer.id, ...tok, gpuSeconds: '36' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds "0"', { organizationId: buyer.id, gpuType: 'H100', gpuSeconds: '0' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds "-1"', { organizationId: buyer.id, gpuType: 'H100', gpuSeconds: '-1' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds "1e3"', { organizationId: buyer.id, gpuType: 'H100', gpuSeconds: '1e3' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds with 7 decimals', { organizationId: buyer.id, gpuType: 'H100', gpuSeconds: '1.0000001' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds "NaN"', { organizationId: buyer.id, gpuType: 'H100', gpuSeconds: 'NaN' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['gpuSeconds as a number', { organizationId: buyer.id, gpuType: 'H100', gpuSeconds: 36 }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['GPU type without seconds', { organizationId: buyer.id, gpuType: 'H100' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['an empty eventId', { organizationId: buyer.id, eventId: '', ...gpu }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['an eventId over 128 characters', { organizationId: buyer.id, eventId: 'x'.repeat(129), ...gpu }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['the buyer itself', { organizationId: buyer.id, ...gpu }, 'FORBIDDEN', buyer.key],
      ['a seller', { organizationId: buyer.id, ...gpu }, 'FORBIDDEN', buyerSeller.key],
      ['a lender', { organizationId: buyer.id, ...gpu }, 'FORBIDDEN', someLender.key],
      ['an anonymous caller', { organizationId: buyer.id, ...gpu }, 'UNAUTHENTICATED', null],
      ['an unknown key', { organizationId: buyer.id, ...gpu }, 'UNAUTHENTICATED', 'ccx_thisKeyWasNeverIssued00000000000000000000'],
    ];
    const failures: string[] = [];
    const refusedOfBuyer: string[] = [];
    for (const [label, input, code, key] of cases) {
      const eventId = (input.eventId as string | undefined) ?? ev('refused');
      if (input.organizationId === buyer.id && input.eventId === undefined) refusedOfBuyer.push(eventId);
      const before = await usageState();
      const res = await recordUsage(t, { eventId, ...input }, key);
      if (res.code !== code) failures.push(`${label}: expected ${code}, got ${res.code ?? JSON.stringify(res.data)}`);
      if (res.data !== null) failures.push(`${label}: refused but returned ${JSON.stringify(res.data)}`);
      if (JSON.stringify(await usageState()) !== JSON.stringify(before)) failures.push(`${label}: refused but changed something`);
    }
    expect(failures).toEqual([]);
    expect(await usageEventsOf(t, buyer)).toEqual([]);
    expect(await usageEventsOf(t, suspended)).toEqual([]);
    expect(await balanceOf(buyer)).toMatchObject({ available: '10.000000', held: '0.000000' });
    // A refusal does not use up the eventId: the corrected event is charged, once.
    expect(refusedOfBuyer.length).toBeGreaterThan(10);
    const retried = refusedOfBuyer[0];
    expect(await recordUsageOk(t, { organizationId: buyer.id, eventId: retried, ...gpu })).toEqual({ eventId: retried, credits: '0.010000', duplicate: false });
    expect((await balanceOf(buyer)).available).toBe('9.990000');
  });
});

describe('duplicates (SPEC §8)', () => {
  it('the same eventId twice: the second is the first result marked duplicate, not charged again', async () => {
    await upsertModel(t, 'dup-model', '0.5', '1.5');
    const buyer = await fundedBuyer(t, ['10']);
    const before = await consumed();
    const first = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'dup-1', model: 'dup-model', inputTokens: 1000, outputTokens: 500 });
    expect(first).toEqual({ eventId: 'dup-1', credits: cr(expectedTokenCost(1000, 500, '0.5', '1.5')), duplicate: false });
    const state = await usageState();
    // Even with different content, a repeat is the first result (not charged, not re-rated).
    const again = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'dup-1', model: 'dup-model', inputTokens: 1000, outputTokens: 500 });
    const different = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'dup-1', gpuType: 'H100', gpuSeconds: '3600' });
    expect(again).toEqual({ ...first, duplicate: true });
    expect(different).toEqual({ ...first, duplicate: true });
    expect(await usageState()).toEqual(state);
    expect((await consumed()).minus(before).toFixed(6)).toBe(first.credits);
    expect((await balanceOf(buyer)).available).toBe(cr(D(10).minus(first.credits)));
    expect(await usageEventsOf(t, buyer)).toHaveLength(1);
  });

  it('the same eventId in 10 concurrent calls: exactly one is charged, nine are duplicates', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const before = await consumed();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => recordUsage(t, { organizationId: buyer.id, eventId: 'concurrent-1', ...h100For('1.5') })),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    const records = results.map((r) => r.data.recordUsage);
    expect(records.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(records.filter((r) => r.duplicate)).toHaveLength(9);
    expect(new Set(records.map((r) => `${r.eventId}:${r.credits}`))).toEqual(new Set(['concurrent-1:1.500000']));
    expect((await consumed()).minus(before).toFixed(6)).toBe('1.500000');
    expect((await balanceOf(buyer)).available).toBe('8.500000');
    expect(await usageEventsOf(t, buyer)).toHaveLength(1);
  });

  it('eventIds are per buyer: two buyers may use the same one, and each is charged', async () => {
    const a = await fundedBuyer(t, ['10']);
    const b = await fundedBuyer(t, ['10']);
    const before = await consumed();
    expect(await recordUsageOk(t, { organizationId: a.id, eventId: 'shared-id', ...h100For('2') })).toEqual({ eventId: 'shared-id', credits: '2.000000', duplicate: false });
    expect(await recordUsageOk(t, { organizationId: b.id, eventId: 'shared-id', ...h100For('3') })).toEqual({ eventId: 'shared-id', credits: '3.000000', duplicate: false });
    // And at the same time: each buyer's own, once each.
    const [x, y] = await Promise.all([
      recordUsageOk(t, { organizationId: a.id, eventId: 'shared-2', ...h100For('1') }),
      recordUsageOk(t, { organizationId: b.id, eventId: 'shared-2', ...h100For('1') }),
    ]);
    expect([x.duplicate, y.duplicate]).toEqual([false, false]);
    expect((await consumed()).minus(before).toFixed(6)).toBe('7.000000');
    expect((await balanceOf(a)).available).toBe('7.000000');
    expect((await balanceOf(b)).available).toBe('6.000000');
  });
});

describe('races for one balance', () => {
  it('50 parallel one-credit events on exactly 10 credits: 10 accepted, 40 INSUFFICIENT_CREDITS', async () => {
    // Two blocks (older one first), so the race also crosses a block boundary.
    const buyer = await fundedBuyer(t, ['4']);
    const now = await clockNow(t);
    await clockTo(t, new Date(now.getTime() + 1000).toISOString());
    expect((await purchase(t, buyer, '6')).errors).toBeUndefined();
    const before = await consumed();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => recordUsage(t, { organizationId: buyer.id, eventId: `race-${i}`, ...h100For('1') })),
    );
    const accepted = results.filter((r) => !r.errors);
    expect(accepted).toHaveLength(10);
    expect(accepted.every((r) => r.data.recordUsage.credits === '1.000000' && r.data.recordUsage.duplicate === false)).toBe(true);
    expect(results.filter((r) => r.errors).map((r) => r.code)).toEqual(Array(40).fill('INSUFFICIENT_CREDITS'));
    const balance = await balanceOf(buyer);
    expect(balance).toMatchObject({ available: '0.000000', held: '0.000000' });
    expect(balance.blocks.map((b) => [b.remaining, b.status])).toEqual([
      ['0.000000', 'EXHAUSTED'],
      ['0.000000', 'EXHAUSTED'],
    ]);
    expect((await consumed()).minus(before).toFixed(6)).toBe('10.000000');
    const events = await usageEventsOf(t, buyer);
    expect(events).toHaveLength(10);
    expect(new Set(events.map((e) => e.event_id))).toEqual(new Set(accepted.map((r) => r.data.recordUsage.eventId)));
  });
});

describe('usage reports (SPEC §8)', () => {
  const DEC = { from: '2025-12-01T00:00:00.000Z', to: '2025-12-04T00:00:00.000Z' };
  type Ev = { org: 'a' | 'b'; eventId: string; at: string; model?: string; inputTokens?: number; outputTokens?: number; gpuType?: string; gpuSeconds?: string };
  const RATES: Record<string, [string, string]> = { 'rep-a': ['0.5', '1.5'], 'rep-b': ['2', '8'] };
  const EVENTS: Ev[] = [
    { org: 'a', eventId: 'a1', at: '2025-12-01T00:00:00.000Z', model: 'rep-a', inputTokens: 1000, outputTokens: 500 },
    { org: 'a', eventId: 'a2', at: '2025-12-01T23:59:59.999Z', model: 'rep-b', inputTokens: 300, outputTokens: 70 },
    { org: 'a', eventId: 'a3', at: '2025-12-02T10:00:00.000Z', gpuType: 'H100', gpuSeconds: '900' },
    { org: 'a', eventId: 'a4', at: '2025-12-03T12:00:00.000Z', model: 'rep-a', inputTokens: 1 },
    { org: 'a', eventId: 'a5', at: '2025-12-03T13:00:00.000Z', gpuType: 'A100', gpuSeconds: '7200' },
    { org: 'a', eventId: 'a6', at: '2025-12-03T23:30:00.000Z', model: 'rep-b', outputTokens: 123_457 },
    // Exactly at `to` and just before `from`: outside [from, to).
    { org: 'a', eventId: 'a7', at: '2025-12-04T00:00:00.000Z', model: 'rep-a', inputTokens: 5000 },
    { org: 'a', eventId: 'a8', at: '2025-11-30T23:59:59.999Z', gpuType: 'H100', gpuSeconds: '36' },
    { org: 'b', eventId: 'b1', at: '2025-12-02T05:00:00.000Z', model: 'rep-a', inputTokens: 2000 },
    { org: 'b', eventId: 'b2', at: '2025-12-03T06:00:00.000Z', gpuType: 'H100', gpuSeconds: '360' },
  ];
  const costOf = (e: Ev) =>
    e.model ? expectedTokenCost(e.inputTokens ?? 0, e.outputTokens ?? 0, ...RATES[e.model]) : expectedGpuCost(e.gpuSeconds!, GPU_CATALOG[e.gpuType!]);
  const inRange = (e: Ev) => Date.parse(e.at) >= Date.parse(DEC.from) && Date.parse(e.at) < Date.parse(DEC.to);
  function expectedRows(events: Ev[], groupBy: 'DAY' | 'MODEL') {
    const rows = new Map<string, { events: number; credits: Decimal }>();
    for (const e of events) {
      const key = groupBy === 'DAY' ? e.at.slice(0, 10) : (e.model ?? `gpu:${e.gpuType}`);
      const row = rows.get(key) ?? { events: 0, credits: D(0) };
      rows.set(key, { events: row.events + 1, credits: row.credits.plus(costOf(e)) });
    }
    return [...rows.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([key, r]) => ({ key, events: r.events, credits: cr(r.credits) }));
  }
  let a: Org;
  let b: Org;
  let consumedByA: Decimal;

  beforeAll(async () => {
    await upsertModel(t, 'rep-a', ...RATES['rep-a']);
    await upsertModel(t, 'rep-b', ...RATES['rep-b']);
    a = await fundedBuyer(t, ['50']);
    b = await fundedBuyer(t, ['50']);
    const before = await consumed();
    for (const e of EVENTS.filter((x) => x.org === 'a')) {
      const { org, at, ...rest } = e;
      const r = await recordUsageOk(t, { organizationId: a.id, ...rest, occurredAt: at });
      expect(r.credits).toBe(cr(costOf(e)));
    }
    consumedByA = (await consumed()).minus(before);
    for (const e of EVENTS.filter((x) => x.org === 'b')) {
      const { org, at, ...rest } = e;
      await recordUsageOk(t, { organizationId: b.id, ...rest, occurredAt: at });
    }
  });

  it('by DAY and by MODEL over several days, [from, to), totals equal to the ledger', async () => {
    const mine = EVENTS.filter((e) => e.org === 'a' && inRange(e));
    const byDay = await usageReport(t, { ...DEC, groupBy: 'DAY' }, a.key);
    expect(byDay.errors).toBeUndefined();
    expect(byDay.data.usageReport).toEqual(expectedRows(mine, 'DAY'));
    expect(byDay.data.usageReport.map((r: { key: string }) => r.key)).toEqual(['2025-12-01', '2025-12-02', '2025-12-03']);
    const byModel = await usageReport(t, { ...DEC, groupBy: 'MODEL' }, a.key);
    expect(byModel.data.usageReport).toEqual(expectedRows(mine, 'MODEL'));
    expect(byModel.data.usageReport.map((r: { key: string }) => r.key)).toEqual(['gpu:A100', 'gpu:H100', 'rep-a', 'rep-b']);
    const total = (rows: { credits: string }[]) => sum(rows.map((r) => r.credits)).toFixed(6);
    expect(total(byDay.data.usageReport)).toBe(total(byModel.data.usageReport));

    // Over a range covering all of A's events, the report's total is what the ledger's consumed
    // account received for them, and what A's blocks lost.
    const wide = { from: '2025-11-01T00:00:00Z', to: '2026-01-01T00:00:00Z' };
    const all = (await usageReport(t, { ...wide, groupBy: 'DAY' }, a.key)).data.usageReport;
    expect(all).toEqual(expectedRows(EVENTS.filter((e) => e.org === 'a'), 'DAY'));
    expect(total(all)).toBe(consumedByA.toFixed(6));
    expect((await usageReport(t, { ...wide, groupBy: 'MODEL' }, a.key)).data.usageReport.reduce((n: number, r: { events: number }) => n + r.events, 0)).toBe(8);
    expect((await balanceOf(a)).available).toBe(cr(D(50).minus(consumedByA)));
    const [movement] = await t.db.dataSource.query(
      `SELECT coalesce(sum(e.amount), 0)::text AS moved FROM usage_events u
       JOIN ledger_entries e ON e.transaction_id = u.ledger_transaction_id JOIN ledger_accounts acc ON acc.id = e.account_id
       WHERE u.organization_id = $1 AND acc.code = $2`,
      [a.id, CONSUMED],
    );
    expect(D(movement.moved).toFixed(6)).toBe(consumedByA.toFixed(6));
    // A range with nothing in it.
    expect((await usageReport(t, { from: '2024-01-01T00:00:00Z', to: '2024-02-01T00:00:00Z', groupBy: 'DAY' }, a.key)).data.usageReport).toEqual([]);
  });

  it('a buyer sees only its own; the operator names one buyer or sees all; another buyer id is FORBIDDEN', async () => {
    const onlyB = EVENTS.filter((e) => e.org === 'b' && inRange(e));
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, b.key)).data.usageReport).toEqual(expectedRows(onlyB, 'DAY'));
    expect((await usageReport(t, { ...DEC, groupBy: 'MODEL' }, b.key, b.id)).data.usageReport).toEqual(expectedRows(onlyB, 'MODEL'));
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, OPERATOR_KEY, a.id)).data.usageReport).toEqual(
      expectedRows(EVENTS.filter((e) => e.org === 'a' && inRange(e)), 'DAY'),
    );
    // Nobody else used December 2025: the operator's all-buyer report is A's and B's together.
    const both = EVENTS.filter(inRange);
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, OPERATOR_KEY)).data.usageReport).toEqual(expectedRows(both, 'DAY'));
    expect((await usageReport(t, { ...DEC, groupBy: 'MODEL' }, OPERATOR_KEY)).data.usageReport).toEqual(expectedRows(both, 'MODEL'));

    const forbidden = await usageReport(t, { ...DEC, groupBy: 'DAY' }, a.key, b.id);
    expect(forbidden.code).toBe('FORBIDDEN');
    expect(forbidden.data).toBeNull();
    expect(JSON.stringify(forbidden.errors)).not.toContain('rep-');
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, a.key, randomUUID())).code).toBe('FORBIDDEN');
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, seller.key)).code).toBe('FORBIDDEN');
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, lender.key)).code).toBe('FORBIDDEN');
    expect((await usageReport(t, { ...DEC, groupBy: 'DAY' }, null)).code).toBe('UNAUTHENTICATED');
  });

  it('to ≤ from is BAD_USER_INPUT', async () => {
    expect((await usageReport(t, { from: DEC.from, to: DEC.from, groupBy: 'DAY' }, a.key)).code).toBe('BAD_USER_INPUT');
    expect((await usageReport(t, { from: DEC.to, to: DEC.from, groupBy: 'MODEL' }, a.key)).code).toBe('BAD_USER_INPUT');
    expect((await usageReport(t, { from: DEC.to, to: DEC.from, groupBy: 'DAY' }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
  });

  it('GET /v1/usage/report.csv returns the same rows as CSV', async () => {
    const csv = (query: string, key: string | null) => {
      const req = t.http().get(`/v1/usage/report.csv?${query}`);
      return key ? req.set('authorization', `Bearer ${key}`) : req;
    };
    const asCsv = (rows: { key: string; events: number; credits: string }[]) =>
      ['key,events,credits', ...rows.map((r) => `${r.key},${r.events},${r.credits}`)].join('\r\n') + '\r\n';
    const range = `from=${DEC.from}&to=${DEC.to}`;
    for (const groupBy of ['DAY', 'MODEL'] as const) {
      const res = await csv(`${range}&groupBy=${groupBy}`, a.key);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const gql = (await usageReport(t, { ...DEC, groupBy }, a.key)).data.usageReport;
      expect(res.text).toBe(asCsv(gql));
      expect(res.text).toBe(asCsv(expectedRows(EVENTS.filter((e) => e.org === 'a' && inRange(e)), groupBy)));
    }
    const operator = await csv(`${range}&groupBy=DAY&organizationId=${b.id}`, OPERATOR_KEY);
    expect(operator.status).toBe(200);
    expect(operator.text).toBe(asCsv(expectedRows(EVENTS.filter((e) => e.org === 'b' && inRange(e)), 'DAY')));
    const everyone = await csv(`${range}&groupBy=MODEL`, OPERATOR_KEY);
    expect(everyone.text).toBe(asCsv(expectedRows(EVENTS.filter(inRange), 'MODEL')));
    expect((await csv(`from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z&groupBy=DAY`, a.key)).text).toBe('key,events,credits\r\n');

    const anonymous = await csv(`${range}&groupBy=DAY`, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('UNAUTHENTICATED');
    const other = await csv(`${range}&groupBy=DAY&organizationId=${b.id}`, a.key);
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('FORBIDDEN');
    expect(other.text).not.toContain('rep-');
    const backwards = await csv(`from=${DEC.to}&to=${DEC.from}&groupBy=DAY`, a.key);
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.code).toBe('BAD_USER_INPUT');
    expect((await csv(`${range}&groupBy=DAY`, seller.key)).status).toBe(403);
  });
});

describe('frozen and expired blocks are never consumed (SPEC §6, §7)', () => {
  it('after a default freezes the FINANCED block, usage draws only from the STANDARD block; CREDITS_FROZEN vs INSUFFICIENT_CREDITS', async () => {
    const buyer = await fundedBuyer(t, ['5']);
    const { facility } = await financedBlock(buyer, '150.00');
    const blockId = facility.creditBlock.id;
    const standardId = (await balanceOf(buyer)).blocks.find((x) => x.type === 'STANDARD')!.id;
    // Before the default the financed block (it expires) goes first.
    await recordUsageOk(t, { organizationId: buyer.id, eventId: 'pre-freeze', ...h100For('1') });
    expect(await blockRemaining(blockId)).toBe('97.000000');
    expect(await blockRemaining(standardId)).toBe('5.000000');

    // Installment 1 is never paid: 30 days after it falls due the facility defaults and freezes.
    const firstDue = facility.schedule[0].dueDate;
    await clockTo(t, plusDays(firstDue, 31));
    const defaulted = await facilityOf(t, facility.id);
    expect(defaulted).toMatchObject({ status: 'DEFAULTED', frozen: true, creditBlock: { status: 'FROZEN', remaining: '97.000000' } });
    expect(await balanceOf(buyer)).toMatchObject({ available: '5.000000', held: '0.000000', frozen: '97.000000' });

    const before = await consumed();
    expect(await recordUsageOk(t, { organizationId: buyer.id, eventId: 'post-freeze-1', ...h100For('2') })).toMatchObject({ credits: '2.000000', duplicate: false });
    expect(await blockRemaining(standardId)).toBe('3.000000');
    expect(await blockRemaining(blockId)).toBe('97.000000');
    expect((await consumed()).minus(before).toFixed(6)).toBe('2.000000');

    const state = await usageState();
    // 4 > 3 available, but 3 + 97 frozen would cover it.
    const frozen = await recordUsage(t, { organizationId: buyer.id, eventId: 'post-freeze-2', ...h100For('4') });
    expect(frozen.code).toBe('CREDITS_FROZEN');
    // Not even the frozen credits would cover 200.
    const short = await recordUsage(t, { organizationId: buyer.id, eventId: 'post-freeze-3', ...h100For('200') });
    expect(short.code).toBe('INSUFFICIENT_CREDITS');
    expect(await usageState()).toEqual(state);

    expect((await recordUsageOk(t, { organizationId: buyer.id, eventId: 'post-freeze-4', ...h100For('3') })).credits).toBe('3.000000');
    const after = await balanceOf(buyer);
    expect(after).toMatchObject({ available: '0.000000', frozen: '97.000000' });
    expect(after.blocks.map((x) => [x.type, x.status, x.remaining]).sort()).toEqual([
      ['FINANCED', 'FROZEN', '97.000000'],
      ['STANDARD', 'EXHAUSTED', '0.000000'],
    ]);
    expect((await recordUsage(t, { organizationId: buyer.id, eventId: 'post-freeze-5', ...h100For('0.000001') })).code).toBe('CREDITS_FROZEN');
    expect((await consumed()).minus(before).toFixed(6)).toBe('5.000000');
  });

  it('a block past its expiry that servicing has not swept yet is not spent', async () => {
    const buyer = await fundedBuyer(t, ['2']);
    await reserve(t, buyer, '5', 1);
    const reserved = (await balanceOf(buyer)).blocks.find((x) => x.type === 'RESERVED')!;
    const standard = (await balanceOf(buyer)).blocks.find((x) => x.type === 'STANDARD')!;
    await recordUsageOk(t, { organizationId: buyer.id, eventId: 'pre-expiry', ...h100For('1') });
    expect(await blockRemaining(reserved.id)).toBe('4.000000');

    // The business clock passes the expiry without a servicing run, as between two runs of the
    // servicing timer: move the shared clock row directly (the API re-reads it on each request).
    const past = new Date(Date.parse(reserved.expiresAt!) + 1000).toISOString();
    await t.db.dataSource.query(`UPDATE business_clock SET now = $1 WHERE id = 1`, [past]);
    expect((await clockNow(t)).toISOString()).toBe(past);
    expect((await balanceOf(buyer)).blocks.find((x) => x.id === reserved.id)!.status).toBe('ACTIVE');

    const before = await consumed();
    // 1 credit comes from the standard block, although the (expired) reserved one comes first.
    expect((await recordUsageOk(t, { organizationId: buyer.id, eventId: 'post-expiry-1', ...h100For('1') })).credits).toBe('1.000000');
    expect(await blockRemaining(standard.id)).toBe('1.000000');
    expect(await blockRemaining(reserved.id)).toBe('4.000000');
    const state = await usageState();
    const refused = await recordUsage(t, { organizationId: buyer.id, eventId: 'post-expiry-2', ...h100For('2') });
    expect(refused.code).toBe('INSUFFICIENT_CREDITS');
    expect(await usageState()).toEqual(state);
    expect((await consumed()).minus(before).toFixed(6)).toBe('1.000000');

    // Servicing then sweeps the block: its 4 credits leave to the expired account, not to usage.
    const expiredBefore = await ledgerBalance(t, EXPIRED_CREDITS);
    await clockTo(t, past);
    expect((await balanceOf(buyer)).blocks.find((x) => x.id === reserved.id)).toMatchObject({ status: 'EXPIRED', remaining: '0.000000' });
    expect((await ledgerBalance(t, EXPIRED_CREDITS)).minus(expiredBefore).toFixed(6)).toBe('4.000000');
    expect((await consumed()).minus(before).toFixed(6)).toBe('1.000000');
  });
});
