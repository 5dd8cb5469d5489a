import { randomUUID } from 'node:crypto';
import { Decimal } from '@ccx/core';
import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { blockAccount, CONSUMED, EXPIRED_CREDITS, ledgerBalance, marketState, usageEventsOf } from './support/db-probes.js';
import { acceptOk, clockTo, facilityOf, offerOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { fundedBuyer, reserve } from './support/drivers/market.js';
import { clockNow, integrity } from './support/drivers/operator.js';
import { type Org, register, suspend } from './support/drivers/organizations.js';
import {
  authorizeUsage,
  authorizeUsageOk,
  captureUsage,
  recordUsage,
  recordUsageOk,
  upsertModel,
  voidUsageHold,
} from './support/drivers/usage.js';
import { deposit } from './support/drivers/wallets.js';
import { D, expectedGpuCost, h100For, plusDays } from './support/oracles.js';

/**
 * SPEC §8 usage holds: authorize an estimated cost (it counts against `available`), capture the
 * actual cost (the rest is released; more only if the extra is available) or void; uncaptured
 * holds expire 10 minutes after authorization. Frozen credits release their holds (SPEC §7).
 *
 * Scenarios that move the business clock far (a default, a block's expiry) come last.
 */

let t: TestApp;
let seller: Org;
let lender: Org;

beforeAll(async () => {
  t = await startTestApp();
  seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
  lender = await register(t, 'LENDER');
  await deposit(t, lender, '1000000.00');
  await upsertModel(t, 'hold-llama', '0.5', '1.5');
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const cr = (v: Decimal | string) => D(v).toFixed(6);
const consumed = () => ledgerBalance(t, CONSUMED);
let seq = 0;
const ev = (prefix = 'h') => `${prefix}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
const HOLD_MINUTES = 10;

interface BalanceView {
  available: string;
  held: string;
  frozen: string;
  blocks: { id: string; type: string; status: string; remaining: string; held: string; expiresAt: string | null }[];
}
async function balanceOf(buyer: Org): Promise<BalanceView> {
  const res = await t.gql(`{ creditBalance { available held frozen blocks { id type status remaining held expiresAt } } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance;
}
const short = (b: BalanceView) => ({ available: b.available, held: b.held, frozen: b.frozen });

/** The hold as stored, and its ledger legs (one per block, burn-down order). */
async function storedHold(id: string): Promise<{ status: string; credits: string; legs: { status: string; amount: string; posted: string | null; account: string }[] }> {
  const [hold] = await t.db.dataSource.query(`SELECT status, credits::text AS credits, ledger_hold_ids FROM usage_holds WHERE id = $1`, [id]);
  const legs = await t.db.dataSource.query(
    `SELECT h.status, h.amount::text AS amount, h.posted_amount::text AS posted, a.code AS account
     FROM ledger_holds h JOIN ledger_accounts a ON a.id = h.debit_account_id WHERE h.id = ANY($1::bigint[]) ORDER BY array_position($1::bigint[], h.id)`,
    [hold.ledger_hold_ids],
  );
  return {
    status: hold.status,
    credits: cr(hold.credits),
    legs: legs.map((l: any) => ({ status: l.status, amount: cr(l.amount), posted: l.posted === null ? null : cr(l.posted), account: l.account })),
  };
}

/** The ledger's view of a block account: posted and held (what the API must agree with). */
async function ledgerBlock(blockId: string): Promise<{ posted: string; held: string }> {
  const [row] = await t.db.dataSource.query(
    `SELECT sum(b.posted)::text AS posted, sum(b.held)::text AS held FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id WHERE a.code = $1`,
    [blockAccount(blockId)],
  );
  return { posted: cr(row.posted), held: cr(row.held) };
}

async function usageState(): Promise<Record<string, unknown>> {
  return {
    market: await marketState(t),
    events: await t.db.dataSource.query(`SELECT organization_id, event_id, credits::text FROM usage_events ORDER BY id`),
    holds: await t.db.dataSource.query(`SELECT id, status, credits::text FROM usage_holds ORDER BY id`),
    legs: await t.db.dataSource.query(`SELECT id, status, posted_amount::text FROM ledger_holds ORDER BY id`),
  };
}

const plusMinutes = (at: Date | string, minutes: number) => new Date(new Date(at).getTime() + minutes * 60_000).toISOString();

describe('authorize and capture', () => {
  it('authorizing lowers available and raises held; capture charges the actual cost and releases the rest', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const [block] = (await balanceOf(buyer)).blocks;
    const now = await clockNow(t);
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'call-1', credits: '3' });
    expect(hold).toEqual({ id: expect.any(String), credits: '3.000000', status: 'OPEN', expiresAt: plusMinutes(now, HOLD_MINUTES) });
    const held = await balanceOf(buyer);
    expect(short(held)).toEqual({ available: '7.000000', held: '3.000000', frozen: '0.000000' });
    expect(held.blocks[0]).toMatchObject({ remaining: '10.000000', held: '3.000000', status: 'ACTIVE' });
    expect(await ledgerBlock(block.id)).toEqual({ posted: '10.000000', held: '3.000000' });
    expect(await storedHold(hold.id)).toEqual({ status: 'OPEN', credits: '3.000000', legs: [{ status: 'PENDING', amount: '3.000000', posted: null, account: blockAccount(block.id) }] });
    // Held credits cannot be spent by other usage.
    expect((await recordUsage(t, { organizationId: buyer.id, eventId: ev(), ...h100For('7.000001') })).code).toBe('INSUFFICIENT_CREDITS');

    const before = await consumed();
    const captured = await captureUsage(t, { holdId: hold.id, gpuType: 'H100', gpuSeconds: '1800' });
    expect(captured.errors).toBeUndefined();
    expect(captured.data.captureUsage).toEqual({ eventId: 'call-1', credits: cr(expectedGpuCost('1800', '1.0')), duplicate: false });
    expect((await consumed()).minus(before).toFixed(6)).toBe('0.500000');
    const after = await balanceOf(buyer);
    expect(short(after)).toEqual({ available: '9.500000', held: '0.000000', frozen: '0.000000' });
    expect(await ledgerBlock(block.id)).toEqual({ posted: '9.500000', held: '0.000000' });
    expect(await storedHold(hold.id)).toEqual({ status: 'CAPTURED', credits: '3.000000', legs: [{ status: 'POSTED', amount: '3.000000', posted: '0.500000', account: blockAccount(block.id) }] });
    const events = await usageEventsOf(t, buyer);
    expect(events.map((e) => [e.event_id, cr(e.credits), e.hold_id, e.gpu_type, D(e.credits_per_gpu_hour).toFixed()])).toEqual([['call-1', '0.500000', hold.id, 'H100', '1']]);

    // Capturing again, or recording the same event, is the first result: nothing more is charged.
    const state = await usageState();
    const again = await captureUsage(t, { holdId: hold.id, gpuType: 'H100', gpuSeconds: '3600' });
    expect(again.data.captureUsage).toEqual({ eventId: 'call-1', credits: '0.500000', duplicate: true });
    expect(await recordUsageOk(t, { organizationId: buyer.id, eventId: 'call-1', ...h100For('1') })).toEqual({ eventId: 'call-1', credits: '0.500000', duplicate: true });
    // Re-authorizing the same event for the same amount is the same (captured) hold.
    expect(await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'call-1', credits: '3' })).toMatchObject({ id: hold.id, status: 'CAPTURED' });
    expect(await usageState()).toEqual(state);
  });

  it('a capture with tokens is rated at the rate card', async () => {
    const buyer = await fundedBuyer(t, ['1']);
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'tok-1', credits: '0.01' });
    const res = await captureUsage(t, { holdId: hold.id, model: 'hold-llama', inputTokens: 3, outputTokens: 1001 });
    // 3 × 0.5 + 1001 × 1.5 = 1503 per million = 0.001503.
    expect(res.data.captureUsage).toEqual({ eventId: 'tok-1', credits: '0.001503', duplicate: false });
    expect(short(await balanceOf(buyer))).toEqual({ available: '0.998497', held: '0.000000', frozen: '0.000000' });
    const [e] = await usageEventsOf(t, buyer);
    expect([e.model, e.input_tokens, e.output_tokens, D(e.input_rate).toFixed(), D(e.output_rate).toFixed()]).toEqual(['hold-llama', '3', '1001', '0.5', '1.5']);
  });

  it('a hold spanning blocks reserves on each in burn-down order; capture posts in that order and releases the rest', async () => {
    const buyer = await fundedBuyer(t, ['5']);
    await reserve(t, buyer, '2', 1);
    const blocks = (await balanceOf(buyer)).blocks;
    const r = blocks.find((b) => b.type === 'RESERVED')!;
    const s = blocks.find((b) => b.type === 'STANDARD')!;
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'span', credits: '3' });
    expect((await storedHold(hold.id)).legs.map((l) => [l.account, l.amount])).toEqual([
      [blockAccount(r.id), '2.000000'],
      [blockAccount(s.id), '1.000000'],
    ]);
    expect((await balanceOf(buyer)).blocks.map((b) => [b.type, b.held]).sort()).toEqual([
      ['RESERVED', '2.000000'],
      ['STANDARD', '1.000000'],
    ]);
    const res = await captureUsage(t, { holdId: hold.id, ...h100For('2.5') });
    expect(res.data.captureUsage.credits).toBe('2.500000');
    expect(await ledgerBlock(r.id)).toEqual({ posted: '0.000000', held: '0.000000' });
    expect(await ledgerBlock(s.id)).toEqual({ posted: '4.500000', held: '0.000000' });
    const after = await balanceOf(buyer);
    expect(short(after)).toEqual({ available: '4.500000', held: '0.000000', frozen: '0.000000' });
    expect(after.blocks.find((b) => b.id === r.id)!.status).toBe('EXHAUSTED');
    expect((await storedHold(hold.id)).legs.map((l) => [l.status, l.posted])).toEqual([
      ['POSTED', '2.000000'],
      ['POSTED', '0.500000'],
    ]);
  });

  it('capturing more than was held succeeds only if the extra is available; otherwise nothing changes and the hold stays OPEN', async () => {
    const rich = await fundedBuyer(t, ['10']);
    const h1 = await authorizeUsageOk(t, { organizationId: rich.id, eventId: 'more-1', credits: '2' });
    const before = await consumed();
    expect((await captureUsage(t, { holdId: h1.id, ...h100For('3.5') })).data.captureUsage).toEqual({ eventId: 'more-1', credits: '3.500000', duplicate: false });
    expect((await consumed()).minus(before).toFixed(6)).toBe('3.500000');
    expect(short(await balanceOf(rich))).toEqual({ available: '6.500000', held: '0.000000', frozen: '0.000000' });

    const tight = await fundedBuyer(t, ['5']);
    const [block] = (await balanceOf(tight)).blocks;
    const h2 = await authorizeUsageOk(t, { organizationId: tight.id, eventId: 'more-2', credits: '4' });
    const state = await usageState();
    // 6 = 4 held + 2 extra, but only 1 is available.
    const refused = await captureUsage(t, { holdId: h2.id, ...h100For('6') });
    expect(refused.code).toBe('INSUFFICIENT_CREDITS');
    expect(refused.data).toBeNull();
    expect(await usageState()).toEqual(state);
    expect(await storedHold(h2.id)).toMatchObject({ status: 'OPEN', legs: [{ status: 'PENDING', amount: '4.000000', posted: null }] });
    expect(short(await balanceOf(tight))).toEqual({ available: '1.000000', held: '4.000000', frozen: '0.000000' });
    // Exactly the extra that is available: charged, and the block is empty.
    const ok = await captureUsage(t, { holdId: h2.id, ...h100For('5') });
    expect(ok.data.captureUsage).toEqual({ eventId: 'more-2', credits: '5.000000', duplicate: false });
    const after = await balanceOf(tight);
    expect(short(after)).toEqual({ available: '0.000000', held: '0.000000', frozen: '0.000000' });
    expect(after.blocks[0]).toMatchObject({ status: 'EXHAUSTED', remaining: '0.000000' });
    expect(await ledgerBlock(block.id)).toEqual({ posted: '0.000000', held: '0.000000' });
  });

  it('void releases everything; capture after void is INVALID_STATE', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const balancesBefore = (await marketState(t)).balances;
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'void-1', credits: '6' });
    expect(short(await balanceOf(buyer))).toEqual({ available: '4.000000', held: '6.000000', frozen: '0.000000' });
    const voided = await voidUsageHold(t, hold.id);
    expect(voided.errors).toBeUndefined();
    expect(voided.data.voidUsageHold).toEqual({ ...hold, status: 'VOIDED' });
    expect(short(await balanceOf(buyer))).toEqual({ available: '10.000000', held: '0.000000', frozen: '0.000000' });
    // Every ledger balance is back where it was: nothing posted, nothing held.
    expect((await marketState(t)).balances).toEqual(balancesBefore);
    expect(await storedHold(hold.id)).toMatchObject({ status: 'VOIDED', legs: [{ status: 'VOIDED', posted: null }] });
    const afterVoid = await usageState();
    expect((await voidUsageHold(t, hold.id)).data.voidUsageHold.status).toBe('VOIDED');
    const capture = await captureUsage(t, { holdId: hold.id, ...h100For('1') });
    expect(capture.code).toBe('INVALID_STATE');
    expect(capture.data).toBeNull();
    expect(await usageState()).toEqual(afterVoid);
    expect(await usageEventsOf(t, buyer)).toEqual([]);
  });

  it('authorizing the same eventId again is the same hold; a different amount is IDEMPOTENCY_CONFLICT', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const first = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'idem', credits: '2.5' });
    const again = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'idem', credits: '2.500000' });
    expect(again).toEqual(first);
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'idem-2', credits: '1' })));
    expect(new Set(concurrent.map((h) => h.id)).size).toBe(1);
    expect(short(await balanceOf(buyer))).toEqual({ available: '6.500000', held: '3.500000', frozen: '0.000000' });
    const state = await usageState();
    const conflict = await authorizeUsage(t, { organizationId: buyer.id, eventId: 'idem', credits: '3' });
    expect(conflict.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await usageState()).toEqual(state);
    expect(await t.db.dataSource.query(`SELECT count(*)::int AS n FROM usage_holds WHERE organization_id = $1`, [buyer.id])).toEqual([{ n: 2 }]);
  });
});

describe('refusals', () => {
  it('authorizeUsage refuses bad input, unknown or inactive buyers, short balances and other callers; nothing changes', async () => {
    const buyer = await fundedBuyer(t, ['5']);
    const suspended = await fundedBuyer(t, ['5']);
    await suspend(t, suspended);
    await recordUsageOk(t, { organizationId: buyer.id, eventId: 'charged-already', ...h100For('1') });
    const cases: [string, { organizationId: string; eventId: string; credits: string }, string, string | null][] = [
      ['zero credits', { organizationId: buyer.id, eventId: ev(), credits: '0' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['negative credits', { organizationId: buyer.id, eventId: ev(), credits: '-1' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['7 decimals', { organizationId: buyer.id, eventId: ev(), credits: '1.0000001' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['exponent', { organizationId: buyer.id, eventId: ev(), credits: '1e1' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['empty eventId', { organizationId: buyer.id, eventId: '', credits: '1' }, 'BAD_USER_INPUT', OPERATOR_KEY],
      ['unknown buyer', { organizationId: randomUUID(), eventId: ev(), credits: '1' }, 'NOT_FOUND', OPERATOR_KEY],
      ['a seller', { organizationId: seller.id, eventId: ev(), credits: '1' }, 'NOT_FOUND', OPERATOR_KEY],
      ['a SUSPENDED buyer', { organizationId: suspended.id, eventId: ev(), credits: '1' }, 'FORBIDDEN', OPERATOR_KEY],
      ['more than available', { organizationId: buyer.id, eventId: ev(), credits: '4.000001' }, 'INSUFFICIENT_CREDITS', OPERATOR_KEY],
      ['an event already charged', { organizationId: buyer.id, eventId: 'charged-already', credits: '1' }, 'INVALID_STATE', OPERATOR_KEY],
      ['the buyer itself', { organizationId: buyer.id, eventId: ev(), credits: '1' }, 'FORBIDDEN', buyer.key],
      ['a seller key', { organizationId: buyer.id, eventId: ev(), credits: '1' }, 'FORBIDDEN', seller.key],
      ['anonymous', { organizationId: buyer.id, eventId: ev(), credits: '1' }, 'UNAUTHENTICATED', null],
    ];
    const failures: string[] = [];
    for (const [label, input, code, key] of cases) {
      const state = await usageState();
      const res = await authorizeUsage(t, input, key);
      if (res.code !== code) failures.push(`${label}: expected ${code}, got ${res.code ?? JSON.stringify(res.data)}`);
      if (JSON.stringify(await usageState()) !== JSON.stringify(state)) failures.push(`${label}: refused but changed something`);
    }
    expect(failures).toEqual([]);
    expect(short(await balanceOf(buyer))).toEqual({ available: '4.000000', held: '0.000000', frozen: '0.000000' });
  });

  it('captureUsage and voidUsageHold refuse unknown holds, bad events and other callers; the hold stays OPEN', async () => {
    const buyer = await fundedBuyer(t, ['5']);
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'refuse-capture', credits: '2' });
    const cases: [string, () => Promise<{ code?: string }>, string][] = [
      ['capture of an unknown hold', () => captureUsage(t, { holdId: randomUUID(), ...h100For('1') }), 'NOT_FOUND'],
      ['void of an unknown hold', () => voidUsageHold(t, randomUUID()), 'NOT_FOUND'],
      ['capture naming nothing', () => captureUsage(t, { holdId: hold.id }), 'BAD_USER_INPUT'],
      ['capture with model and gpuType', () => captureUsage(t, { holdId: hold.id, model: 'hold-llama', inputTokens: 1, ...h100For('1') }), 'BAD_USER_INPUT'],
      ['capture with zero tokens', () => captureUsage(t, { holdId: hold.id, model: 'hold-llama', inputTokens: 0 }), 'BAD_USER_INPUT'],
      ['capture with gpuSeconds "0"', () => captureUsage(t, { holdId: hold.id, gpuType: 'H100', gpuSeconds: '0' }), 'BAD_USER_INPUT'],
      ['capture of an unknown model', () => captureUsage(t, { holdId: hold.id, model: 'no-such-model', inputTokens: 1 }), 'NOT_FOUND'],
      ['capture by the buyer', () => captureUsage(t, { holdId: hold.id, ...h100For('1') }, buyer.key), 'FORBIDDEN'],
      ['void by the buyer', () => voidUsageHold(t, hold.id, buyer.key), 'FORBIDDEN'],
      ['capture by anonymous', () => captureUsage(t, { holdId: hold.id, ...h100For('1') }, null), 'UNAUTHENTICATED'],
      ['void by anonymous', () => voidUsageHold(t, hold.id, null), 'UNAUTHENTICATED'],
    ];
    const failures: string[] = [];
    for (const [label, call, code] of cases) {
      const state = await usageState();
      const res = await call();
      if (res.code !== code) failures.push(`${label}: expected ${code}, got ${res.code ?? 'success'}`);
      if (JSON.stringify(await usageState()) !== JSON.stringify(state)) failures.push(`${label}: refused but changed something`);
    }
    expect(failures).toEqual([]);
    expect(await storedHold(hold.id)).toMatchObject({ status: 'OPEN', legs: [{ status: 'PENDING' }] });
    expect(short(await balanceOf(buyer))).toEqual({ available: '3.000000', held: '2.000000', frozen: '0.000000' });
  });

  it('an event recorded directly while its hold is open: the capture is refused cleanly and nothing is charged twice', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'both-ways', credits: '2' });
    expect((await recordUsageOk(t, { organizationId: buyer.id, eventId: 'both-ways', ...h100For('1') })).duplicate).toBe(false);
    const state = await usageState();
    const res = await captureUsage(t, { holdId: hold.id, ...h100For('1') });
    expect(res.code).toBe('INVALID_STATE');
    expect(await usageState()).toEqual(state);
    // The hold is still there to void; the event was charged once.
    expect((await voidUsageHold(t, hold.id)).data.voidUsageHold.status).toBe('VOIDED');
    expect(short(await balanceOf(buyer))).toEqual({ available: '9.000000', held: '0.000000', frozen: '0.000000' });
    expect(await usageEventsOf(t, buyer)).toHaveLength(1);
  });
});

describe('races', () => {
  it('capture and void of the same hold at once: exactly one wins', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    for (let round = 0; round < 8; round++) {
      const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: `cv-${round}`, credits: '3' });
      const before = await consumed();
      const capturing = () => captureUsage(t, { holdId: hold.id, ...h100For('2') });
      const voiding = () => voidUsageHold(t, hold.id);
      // Sent in both orders, alternately.
      const [capture, voided] = round % 2 ? await Promise.all([capturing(), voiding()]) : (await Promise.all([voiding(), capturing()])).reverse();
      const captureWon = !capture.errors;
      expect(captureWon).toBe(!!voided.errors);
      const stored = await storedHold(hold.id);
      if (captureWon) {
        expect(voided.code).toBe('INVALID_STATE');
        expect(stored.status).toBe('CAPTURED');
        expect((await consumed()).minus(before).toFixed(6)).toBe('2.000000');
      } else {
        expect(capture.code).toBe('INVALID_STATE');
        expect(voided.data.voidUsageHold.status).toBe('VOIDED');
        expect(stored.status).toBe('VOIDED');
        expect((await consumed()).minus(before).toFixed(6)).toBe('0.000000');
      }
      expect((await balanceOf(buyer)).held).toBe('0.000000');
    }
    const events = await usageEventsOf(t, buyer);
    expect((await balanceOf(buyer)).available).toBe(cr(D(100).minus(D(2).times(events.length))));
  });

  it('10 concurrent authorizations on a balance that fits 5: exactly 5 succeed', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => authorizeUsage(t, { organizationId: buyer.id, eventId: `auth-${i}`, credits: '2' })));
    expect(results.filter((r) => !r.errors)).toHaveLength(5);
    expect(results.filter((r) => r.errors).map((r) => r.code)).toEqual(Array(5).fill('INSUFFICIENT_CREDITS'));
    expect(short(await balanceOf(buyer))).toEqual({ available: '0.000000', held: '10.000000', frozen: '0.000000' });
    expect(await t.db.dataSource.query(`SELECT status, count(*)::int AS n FROM usage_holds WHERE organization_id = $1 GROUP BY status`, [buyer.id])).toEqual([{ status: 'OPEN', n: 5 }]);
  });

  it('many concurrent captures of one buyer’s holds all succeed, each charged once', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    const holds = [];
    for (let i = 0; i < 30; i++) holds.push(await authorizeUsageOk(t, { organizationId: buyer.id, eventId: `many-${i}`, credits: '2' }));
    const before = await consumed();
    const results = await Promise.all(holds.map((h) => captureUsage(t, { holdId: h.id, ...h100For('1') })));
    expect(results.filter((r) => r.errors).map((r) => r.code)).toEqual([]);
    expect(results.every((r) => r.data.captureUsage.credits === '1.000000' && !r.data.captureUsage.duplicate)).toBe(true);
    expect((await consumed()).minus(before).toFixed(6)).toBe('30.000000');
    expect(short(await balanceOf(buyer))).toEqual({ available: '70.000000', held: '0.000000', frozen: '0.000000' });
  });

  it('captures racing with direct usage for the same balance never overspend it', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const holds = [];
    for (let i = 0; i < 3; i++) holds.push(await authorizeUsageOk(t, { organizationId: buyer.id, eventId: `mix-${i}`, credits: '1' }));
    // 7 available; each capture needs 1 extra credit; 10 direct one-credit events compete.
    const before = await consumed();
    const [captures, direct] = await Promise.all([
      Promise.all(holds.map((h) => captureUsage(t, { holdId: h.id, ...h100For('2') }))),
      Promise.all(Array.from({ length: 10 }, (_, i) => recordUsage(t, { organizationId: buyer.id, eventId: `direct-${i}`, ...h100For('1') }))),
    ]);
    const captured = captures.filter((r) => !r.errors).length;
    const recorded = direct.filter((r) => !r.errors).length;
    expect(captures.filter((r) => r.errors).every((r) => r.code === 'INSUFFICIENT_CREDITS')).toBe(true);
    expect(direct.filter((r) => r.errors).every((r) => r.code === 'INSUFFICIENT_CREDITS')).toBe(true);
    const spent = D(captured * 2 + recorded);
    const left = await balanceOf(buyer);
    expect((await consumed()).minus(before).toFixed(6)).toBe(cr(spent));
    expect(D(left.available).plus(left.held).toFixed(6)).toBe(cr(D(10).minus(spent)));
    expect(D(left.held).toFixed(6)).toBe(cr(D(3 - captured)));
    // Each success takes exactly one available credit: 7 of the 13 attempts succeed, whichever they are.
    expect(captured + recorded).toBe(7);
    expect(left.available).toBe('0.000000');
  });
});

describe('expiry', () => {
  it('holds expire 10 minutes after authorization: EXPIRED, credits released, capture refused', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const start = await clockNow(t);
    const a = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'exp-a', credits: '2' });
    const b = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'exp-b', credits: '3' });
    expect(short(await balanceOf(buyer))).toEqual({ available: '5.000000', held: '5.000000', frozen: '0.000000' });

    await clockTo(t, new Date(start.getTime() + HOLD_MINUTES * 60_000 - 1000).toISOString());
    expect((await storedHold(b.id)).status).toBe('OPEN');
    expect((await captureUsage(t, { holdId: a.id, ...h100For('1') })).data.captureUsage.credits).toBe('1.000000');

    await clockTo(t, plusMinutes(start, HOLD_MINUTES));
    expect(await storedHold(b.id)).toMatchObject({ status: 'EXPIRED', legs: [{ status: expect.stringMatching(/^(VOIDED|EXPIRED)$/), posted: null }] });
    const [resolved] = await t.db.dataSource.query(`SELECT resolved_at FROM usage_holds WHERE id = $1`, [b.id]);
    expect(new Date(resolved.resolved_at).toISOString()).toBe(b.expiresAt);
    expect(short(await balanceOf(buyer))).toEqual({ available: '9.000000', held: '0.000000', frozen: '0.000000' });
    const state = await usageState();
    expect((await captureUsage(t, { holdId: b.id, ...h100For('1') })).code).toBe('INVALID_STATE');
    expect((await voidUsageHold(t, b.id)).code).toBe('INVALID_STATE');
    expect(await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'exp-b', credits: '3' })).toMatchObject({ id: b.id, status: 'EXPIRED' });
    expect(await usageState()).toEqual(state);
    expect((await usageEventsOf(t, buyer)).map((e) => e.event_id)).toEqual(['exp-a']);
  });

  it('a hold past its deadline is not captured even before servicing has run', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'late', credits: '2' });
    // Between two servicing runs: move the shared clock row (the API re-reads it per request).
    await t.db.dataSource.query(`UPDATE business_clock SET now = $1 WHERE id = 1`, [hold.expiresAt]);
    const state = await usageState();
    expect((await captureUsage(t, { holdId: hold.id, ...h100For('1') })).code).toBe('INVALID_STATE');
    expect(await usageState()).toEqual(state);
    await clockTo(t, hold.expiresAt);
    expect((await storedHold(hold.id)).status).toBe('EXPIRED');
    expect(short(await balanceOf(buyer))).toEqual({ available: '10.000000', held: '0.000000', frozen: '0.000000' });
  });
});

describe('frozen and expired blocks release their holds', () => {
  it('a hold on a FINANCED block that gets frozen is released; a later capture charges other available blocks', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const offered = await offerOk(t, lender, { borrowerId: buyer.id, principal: '150.00', apr: '0.12', termMonths: 12 });
    const facility = await acceptOk(t, buyer, offered.id);
    const financed = facility.creditBlock.id;
    const standard = (await balanceOf(buyer)).blocks.find((b) => b.type === 'STANDARD')!.id;
    expect(facility.creditBlock.remaining).toBe('98.000000');

    // Holds last 10 minutes: authorize right before the default instant (30 days after
    // installment 1 falls due, unpaid). Both go on the financed block: it expires (at maturity),
    // the standard one never does.
    const defaultAt = plusDays(facility.schedule[0].dueDate, 30);
    await clockTo(t, plusMinutes(defaultAt, -5));
    expect((await facilityOf(t, facility.id)).status).toBe('DELINQUENT');
    const k1 = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'at-default-1', credits: '50' });
    const k2 = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'at-default-2', credits: '20' });
    expect(await ledgerBlock(financed)).toEqual({ posted: '98.000000', held: '70.000000' });

    await clockTo(t, plusMinutes(defaultAt, 1));
    expect(await facilityOf(t, facility.id)).toMatchObject({ status: 'DEFAULTED', frozen: true, creditBlock: { status: 'FROZEN' } });
    expect(await ledgerBlock(financed)).toEqual({ posted: '98.000000', held: '0.000000' });
    const frozen = await balanceOf(buyer);
    expect(short(frozen)).toEqual({ available: '10.000000', held: '0.000000', frozen: '98.000000' });
    expect(frozen.blocks.find((b) => b.id === financed)).toMatchObject({ status: 'FROZEN', held: '0.000000', remaining: '98.000000' });
    expect((await storedHold(k1.id)).legs.map((l) => l.status)).toEqual(['VOIDED']);

    // 12 > 10 available, and the frozen credits would have covered it.
    const state = await usageState();
    expect((await captureUsage(t, { holdId: k2.id, ...h100For('12') })).code).toBe('CREDITS_FROZEN');
    expect(await usageState()).toEqual(state);
    expect((await storedHold(k2.id)).status).toBe('OPEN');

    const before = await consumed();
    expect((await captureUsage(t, { holdId: k1.id, ...h100For('4') })).data.captureUsage).toEqual({ eventId: 'at-default-1', credits: '4.000000', duplicate: false });
    expect((await consumed()).minus(before).toFixed(6)).toBe('4.000000');
    expect(await ledgerBlock(standard)).toEqual({ posted: '6.000000', held: '0.000000' });
    expect(await ledgerBlock(financed)).toEqual({ posted: '98.000000', held: '0.000000' });
    expect((await storedHold(k1.id)).status).toBe('CAPTURED');
    expect((await voidUsageHold(t, k2.id)).data.voidUsageHold.status).toBe('VOIDED');
    expect(short(await balanceOf(buyer))).toEqual({ available: '6.000000', held: '0.000000', frozen: '98.000000' });
  });

  it('a hold leg on a block that expires before the capture is not spent: the capture draws from live blocks', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    await reserve(t, buyer, '5', 1);
    const reserved = (await balanceOf(buyer)).blocks.find((b) => b.type === 'RESERVED')!;
    const standard = (await balanceOf(buyer)).blocks.find((b) => b.type === 'STANDARD')!;
    await clockTo(t, plusMinutes(reserved.expiresAt!, -5));
    const hold = await authorizeUsageOk(t, { organizationId: buyer.id, eventId: 'straddle', credits: '2' });
    expect((await storedHold(hold.id)).legs.map((l) => l.account)).toEqual([blockAccount(reserved.id)]);

    // The block's expiry passes (the hold's has not) before servicing sweeps it.
    await t.db.dataSource.query(`UPDATE business_clock SET now = $1 WHERE id = 1`, [plusMinutes(reserved.expiresAt!, 1)]);
    const before = await consumed();
    const res = await captureUsage(t, { holdId: hold.id, ...h100For('2') });
    expect(res.errors).toBeUndefined();
    expect(res.data.captureUsage.credits).toBe('2.000000');
    expect(await ledgerBlock(standard.id)).toEqual({ posted: '8.000000', held: '0.000000' });
    expect(await ledgerBlock(reserved.id)).toEqual({ posted: '5.000000', held: '0.000000' });
    expect((await consumed()).minus(before).toFixed(6)).toBe('2.000000');

    const expiredBefore = await ledgerBalance(t, EXPIRED_CREDITS);
    await clockTo(t, plusMinutes(reserved.expiresAt!, 1));
    expect((await ledgerBalance(t, EXPIRED_CREDITS)).minus(expiredBefore).toFixed(6)).toBe('5.000000');
    expect((await balanceOf(buyer)).blocks.find((b) => b.id === reserved.id)).toMatchObject({ status: 'EXPIRED', remaining: '0.000000' });
  });
});
