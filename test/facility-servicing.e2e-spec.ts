import { Decimal } from '@ccx/core';
import { CLOCK_START, OPERATOR_KEY, type TestApp } from './support/app.js';
import {
  blockCode,
  EXPIRED_CREDITS,
  facilityLedger,
  financingState,
  INVENTORY,
  ledgerBalance,
  TREASURY,
  walletCode,
} from './support/db-probes.js';
import {
  clockTo,
  facilityAs,
  facilityOf,
  financingWorld,
  type FinancingWorld,
  freeze,
  openFacility,
  recover,
  repay,
  repayOk,
  unfreeze,
} from './support/drivers/facilities.js';
import { creditBalanceOf, purchase } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { expectedSchedule, FINANCING, plusDays, sumOf, wholeDays } from './support/oracles.js';

/**
 * SPEC §7 over time: days past due and the status they give, the freeze controller (automatic on
 * default, by hand, sticky DEFAULTED), recovery with a loss and with a surplus, and maturity.
 * Every facility here is accepted at the test clock's start, 2026-01-05T12:00:00Z, so
 * installment k is due on the 5th of month k+1 at 12:00.
 */

const D = (v: string | number | Decimal) => new Decimal(v);
const DAY = 86_400_000;
const creditsFor = (purchaseAmount: string) => D(purchaseAmount).div('1.50').decimalPlaces(6, Decimal.ROUND_DOWN);

/** 12,000.00 at 0.24 for 6 months: r = 0.02; installments of 2,142.31. */
const SMALL = { principal: '12000.00', apr: '0.24', termMonths: 6 } as const;
const SMALL_SCHEDULE = expectedSchedule('12000.00', '0.24', 6, CLOCK_START);
/** 10,000.00 at 0.12 for 3 months: r = 0.01; 3,400.22, 3,400.22, 3,400.23. */
const SHORT = { principal: '10000.00', apr: '0.12', termMonths: 3 } as const;
const SHORT_SCHEDULE = expectedSchedule('10000.00', '0.12', 3, CLOCK_START);

async function expectBalanced(t: TestApp): Promise<void> {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
}

/** The gateway (operator) records H100 time worth exactly `credits` for `org` (SPEC §8). */
function useCredits(t: TestApp, org: Org, credits: string, eventId = `use-${Math.random().toString(36).slice(2)}`) {
  return t.gql(
    `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { eventId credits duplicate } }`,
    { input: { organizationId: org.id, eventId, gpuType: 'H100', gpuSeconds: D(credits).times(3600).toFixed() } },
    OPERATOR_KEY,
  );
}

type World = FinancingWorld;
const world = () => financingWorld();
const open = openFacility;

it('the fixtures: SPEC §7 schedules of the two loans used here', () => {
  expect(SMALL_SCHEDULE.map((i) => i.payment)).toEqual(['2142.31', '2142.31', '2142.31', '2142.31', '2142.31', '2142.31']);
  expect(SMALL_SCHEDULE.map((i) => i.interest)).toEqual(['240.00', '201.95', '163.15', '123.56', '83.19', '42.01']);
  expect(SHORT_SCHEDULE.map((i) => [i.payment, i.interest, i.principal])).toEqual([
    ['3400.22', '100.00', '3300.22'],
    ['3400.22', '67.00', '3333.22'],
    ['3400.23', '33.67', '3366.56'],
  ]);
});

describe('days past due, status and default (grace 5, default 30, and custom thresholds)', () => {
  let w: World;
  let a: any; // never pays
  let b: any; // pays its arrears while DELINQUENT
  let c: any; // grace 0, default 2
  let d: any; // grace 10, default 15
  const due1 = SMALL_SCHEDULE[0].dueDate;

  beforeAll(async () => {
    w = await world();
    a = await open(w, SMALL);
    b = await open(w, SMALL);
    c = await open(w, { ...SMALL, graceDays: 0, defaultAfterDaysPastDue: 2 });
    d = await open(w, { ...SMALL, graceDays: 10, defaultAfterDaysPastDue: 15 });
  });
  afterAll(async () => {
    await w.t.close();
  });

  const view = (f: any) => facilityOf(w.t, f.id);

  it('at the first due date: due, not yet past due (DPD 0, ACTIVE, the installment DUE)', async () => {
    expect(due1).toBe('2026-02-05T12:00:00.000Z');
    await clockTo(w.t, plusDays(due1, -1));
    expect(await view(a)).toMatchObject({ status: 'ACTIVE', daysPastDue: 0, pastDueAmount: '0.00' });
    await clockTo(w.t, due1);
    for (const f of [a, b, c, d]) {
      const v = await view(f);
      expect(v).toMatchObject({ status: 'ACTIVE', daysPastDue: 0, pastDueAmount: '2142.31', frozen: false });
      expect(v.schedule[0].status).toBe('DUE');
    }
    await expectBalanced(w.t);
  });

  it('grace 0 / default 2: DELINQUENT after 1 day, DEFAULTED and frozen at exactly 2 days', async () => {
    await clockTo(w.t, plusDays(due1, 1));
    expect(await view(c)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 1, frozen: false });
    expect(await view(a)).toMatchObject({ status: 'ACTIVE', daysPastDue: 1 });
    await clockTo(w.t, new Date(Date.parse(due1) + 2 * DAY - 1).toISOString());
    expect(await view(c)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 1 });
    await clockTo(w.t, plusDays(due1, 2));
    const v = await view(c);
    expect(v).toMatchObject({ status: 'DEFAULTED', daysPastDue: 2, frozen: true, creditBlock: { status: 'FROZEN' } });
    expect(v.freezeEvents).toEqual([{ action: 'FREEZE', actorId: null, reason: expect.stringContaining('2 days past due'), at: plusDays(due1, 2) }]);
    await expectBalanced(w.t);
  });

  it('grace 5: still ACTIVE at due + 5 days (and one millisecond before 6), the installment OVERDUE', async () => {
    await clockTo(w.t, plusDays(due1, 5));
    const v = await view(a);
    expect(v).toMatchObject({ status: 'ACTIVE', daysPastDue: 5, pastDueAmount: '2142.31' });
    expect(v.schedule.map((i: any) => i.status)).toEqual(['OVERDUE', 'DUE', 'DUE', 'DUE', 'DUE', 'DUE']);
    await clockTo(w.t, new Date(Date.parse(due1) + 6 * DAY - 1).toISOString());
    expect(await view(a)).toMatchObject({ status: 'ACTIVE', daysPastDue: 5 });
  });

  it('due + 6 days: DELINQUENT (not frozen)', async () => {
    await clockTo(w.t, plusDays(due1, 6));
    for (const f of [a, b]) expect(await view(f)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 6, pastDueAmount: '2142.31', frozen: false, creditBlock: { status: 'ACTIVE' } });
    expect(await view(d)).toMatchObject({ status: 'ACTIVE', daysPastDue: 6 });
  });

  it('servicing twice for the same instant changes nothing the second time', async () => {
    const before = await financingState(w.t);
    await clockTo(w.t, plusDays(due1, 6));
    expect(await financingState(w.t)).toEqual(before);
  });

  it('paying part of the arrears keeps DELINQUENT; paying them all returns to ACTIVE at once', async () => {
    const partial = await repayOk(w.t, w.buyer, b.id, '1000.00');
    expect(partial).toMatchObject({ interestPaid: '240.00', principalPaid: '760.00' });
    expect(partial.facility).toMatchObject({ status: 'DELINQUENT', daysPastDue: 6, pastDueAmount: '1142.31' });
    const rest = await repayOk(w.t, w.buyer, b.id, '1142.31');
    expect(rest).toMatchObject({ interestPaid: '0.00', principalPaid: '1142.31' });
    expect(rest.facility).toMatchObject({ status: 'ACTIVE', daysPastDue: 0, pastDueAmount: '0.00', frozen: false });
    expect(rest.facility.schedule[0].status).toBe('PAID');
    expect(rest.facility.outstandingPrincipal).toBe(D('12000.00').minus(SMALL_SCHEDULE[0].principal).toFixed(2));
    expect(await facilityLedger(w.t, b.id)).toEqual({ receivable: '10097.69', debt: '-10097.69' });
    // Servicing agrees: nothing moves it back.
    await clockTo(w.t, plusDays(due1, 7));
    expect(await view(b)).toMatchObject({ status: 'ACTIVE', daysPastDue: 0 });
    await expectBalanced(w.t);
  });

  it('grace 10 / default 15: ACTIVE at 10 days, DELINQUENT at 11', async () => {
    await clockTo(w.t, plusDays(due1, 10));
    expect(await view(d)).toMatchObject({ status: 'ACTIVE', daysPastDue: 10 });
    await clockTo(w.t, plusDays(due1, 11));
    expect(await view(d)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 11 });
  });

  it('a jump to due + 29 days: the custom facility defaulted on the way, frozen at its own default instant', async () => {
    await clockTo(w.t, plusDays(due1, 29));
    const vd = await view(d);
    expect(vd).toMatchObject({ status: 'DEFAULTED', daysPastDue: 29, frozen: true });
    expect(vd.freezeEvents).toEqual([{ action: 'FREEZE', actorId: null, reason: expect.stringContaining('15 days past due'), at: plusDays(due1, 15) }]);
    // Installment 2 fell due on Mar 5: two installments past due, DPD still from the oldest.
    const va = await view(a);
    expect(plusDays(due1, 29)).toBe('2026-03-06T12:00:00.000Z');
    expect(va).toMatchObject({ status: 'DELINQUENT', daysPastDue: 29, pastDueAmount: sumOf(SMALL_SCHEDULE, 'payment', 1, 2), frozen: false });
    expect(va.pastDueAmount).toBe('4284.62');
    expect(va.schedule.map((i: any) => i.status)).toEqual(['OVERDUE', 'OVERDUE', 'DUE', 'DUE', 'DUE', 'DUE']);
    // b paid #1; #2 is a day late: within grace.
    expect(await view(b)).toMatchObject({ status: 'ACTIVE', daysPastDue: 1, pastDueAmount: '2142.31' });
    await clockTo(w.t, new Date(Date.parse(due1) + 30 * DAY - 1).toISOString());
    expect(await view(a)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 29 });
    await expectBalanced(w.t);
  });

  it('due + 30 days: DEFAULTED, the FINANCED block frozen at exactly that instant by the controller', async () => {
    const at = plusDays(due1, 30);
    await clockTo(w.t, at);
    const v = await view(a);
    expect(v).toMatchObject({ status: 'DEFAULTED', daysPastDue: 30, pastDueAmount: '4284.62', frozen: true, outstandingPrincipal: '12000.00' });
    expect(v.creditBlock).toMatchObject({ status: 'FROZEN', remaining: v.creditsGranted });
    expect(v.freezeEvents).toEqual([{ action: 'FREEZE', actorId: null, reason: expect.stringContaining('30 days past due'), at }]);
    // The borrower's balance: the frozen financed credits are not available.
    const balance = await creditBalanceOf(w.t, w.buyer);
    const frozen = [a, c, d].reduce((s, f) => s.plus(f.creditsGranted), D(0));
    expect(balance.frozen).toBe(frozen.toFixed(6));
    expect(balance.available).toBe(D(b.creditsGranted).toFixed(6));
    await expectBalanced(w.t);
  });
});

describe('a clock jump of months straight past default', () => {
  let w: World;
  let e: any; // 6 months, nothing paid
  let f: any; // 3 months, nothing paid: defaults before maturity
  let g: any; // 2 months, #1 paid: #2 is due at maturity, and the block expires before the default
  let h: any; // 2 months, nothing paid, default 28 days: defaults at the very instant of maturity

  beforeAll(async () => {
    w = await world();
    e = await open(w, SMALL);
    f = await open(w, SHORT);
    g = await open(w, { principal: '10000.00', apr: '0.12', termMonths: 2 });
    h = await open(w, { principal: '10000.00', apr: '0.12', termMonths: 2, defaultAfterDaysPastDue: 28 });
    const gSchedule = expectedSchedule('10000.00', '0.12', 2, CLOCK_START);
    await repayOk(w.t, w.buyer, g.id, gSchedule[0].payment);
    await clockTo(w.t, '2026-06-01T00:00:00.000Z');
  });
  afterAll(async () => {
    await w.t.close();
  });

  it('the status is judged at the target, the freeze happened at the default instant (not at the jump target)', async () => {
    const v = await facilityOf(w.t, e.id);
    const due1 = SMALL_SCHEDULE[0].dueDate;
    expect(v).toMatchObject({
      status: 'DEFAULTED',
      daysPastDue: wholeDays(due1, '2026-06-01T00:00:00.000Z'),
      pastDueAmount: sumOf(SMALL_SCHEDULE, 'payment', 1, 4),
      frozen: true,
      creditBlock: { status: 'FROZEN', expiresAt: SMALL_SCHEDULE[5].dueDate },
    });
    expect(v.daysPastDue).toBe(115);
    expect(v.freezeEvents).toEqual([{ action: 'FREEZE', actorId: null, reason: expect.any(String), at: '2026-03-07T12:00:00.000Z' }]);
    await expectBalanced(w.t);
  });

  it('defaulted before maturity: frozen at the default instant, so not expired at maturity', async () => {
    const v = await facilityOf(w.t, f.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', frozen: true, creditBlock: { status: 'FROZEN', remaining: v.creditsGranted, expiresAt: SHORT_SCHEDULE[2].dueDate } });
    expect(v.freezeEvents.map((x: any) => x.at)).toEqual(['2026-03-07T12:00:00.000Z']);
  });

  it('due at maturity and defaulting after it: the block expired at maturity, as if servicing had run daily; nothing to freeze', async () => {
    const maturity = '2026-03-05T12:00:00.000Z';
    const v = await facilityOf(w.t, g.id);
    expect(v).toMatchObject({
      status: 'DEFAULTED',
      daysPastDue: wholeDays(maturity, '2026-06-01T00:00:00.000Z'),
      frozen: false,
      maturityAt: maturity,
      creditBlock: { status: 'EXPIRED', remaining: '0.000000', expiresAt: maturity },
    });
    expect(v.freezeEvents).toEqual([]);
    expect((await ledgerBalance(w.t, EXPIRED_CREDITS)).toFixed(6)).toBe(D(g.creditsGranted).toFixed(6));
    await expectBalanced(w.t);
  });

  it('defaulting at the very instant of maturity: frozen (servicing freezes before it expires), as stepwise servicing would', async () => {
    const maturity = '2026-03-05T12:00:00.000Z';
    expect(wholeDays('2026-02-05T12:00:00.000Z', maturity)).toBe(28);
    const v = await facilityOf(w.t, h.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', frozen: true, creditBlock: { status: 'FROZEN', remaining: h.creditsGranted, expiresAt: maturity } });
    expect(v.freezeEvents.map((x: any) => x.at)).toEqual([maturity]);
  });
});

describe('the freeze controller', () => {
  let w: World;
  let f: any; // frozen by hand while DELINQUENT, unfrozen, then defaults, pays its arrears
  let f2: any; // frozen by hand while DELINQUENT and still frozen when it defaults
  let f3: any; // defaults, then repaid in full
  let f4: any; // defaults, unfrozen, frozen again by hand, recovered
  let standardCredits: string;
  let solo: Org; // one facility and 100 standard credits, metered while the facility is frozen
  let soloFacility: any;
  const due1 = SMALL_SCHEDULE[0].dueDate;

  beforeAll(async () => {
    w = await world();
    f = await open(w, SMALL);
    f2 = await open(w, SMALL);
    f3 = await open(w, SMALL);
    f4 = await open(w, SMALL);
    solo = await register(w.t, 'BUYER');
    await deposit(w.t, solo, '1000.00');
    soloFacility = await open(w, SMALL, solo);
    expect((await purchase(w.t, solo, '100')).errors).toBeUndefined();
    const bought = await purchase(w.t, w.buyer, '100');
    expect(bought.errors).toBeUndefined();
    standardCredits = bought.data.purchaseCredits.credits;
  });
  afterAll(async () => {
    await w.t.close();
  });

  it('an ACTIVE facility cannot be frozen (INVALID_STATE); nothing changes', async () => {
    const before = await financingState(w.t);
    expect((await freeze(w.t, w.lender.key, f.id, 'just in case')).code).toBe('INVALID_STATE');
    expect((await unfreeze(w.t, w.lender.key, f.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
  });

  it('DELINQUENT: the borrower FORBIDDEN, another lender NOT_FOUND, an empty reason BAD_USER_INPUT', async () => {
    await clockTo(w.t, plusDays(due1, 6));
    expect((await facilityOf(w.t, f.id)).status).toBe('DELINQUENT');
    const before = await financingState(w.t);
    expect((await freeze(w.t, w.buyer.key, f.id, 'mine')).code).toBe('FORBIDDEN');
    expect((await freeze(w.t, w.otherLender.key, f.id, 'not mine')).code).toBe('NOT_FOUND');
    expect((await freeze(w.t, w.lender.key, f.id, '   ')).code).toBe('BAD_USER_INPUT');
    expect((await recover(w.t, w.lender.key, f.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
  });

  it('the lender freezes a DELINQUENT facility: FROZEN, audited with the lender and the reason; the credits leave `available`', async () => {
    const now = plusDays(due1, 6);
    const res = await freeze(w.t, w.lender.key, f.id, 'borrower stopped answering');
    expect(res.errors).toBeUndefined();
    expect(res.data.freezeFacilityCredits).toMatchObject({ status: 'DELINQUENT', frozen: true, creditBlock: { status: 'FROZEN', remaining: f.creditsGranted } });
    expect(res.data.freezeFacilityCredits.freezeEvents).toEqual([{ action: 'FREEZE', actorId: w.lender.id, reason: 'borrower stopped answering', at: now }]);
    // Frozen financed credits are counted in `frozen`; the STANDARD block and the other
    // facilities' blocks stay available.
    const balance = await creditBalanceOf(w.t, w.buyer);
    expect(balance.frozen).toBe(D(f.creditsGranted).toFixed(6));
    expect(balance.available).toBe(D(f2.creditsGranted).plus(f3.creditsGranted).plus(f4.creditsGranted).plus(standardCredits).toFixed(6));
    expect(balance.blocks.find((x: any) => x.type === 'STANDARD')).toMatchObject({ status: 'ACTIVE', remaining: D(standardCredits).toFixed(6) });
    // The audit trail: the lender and the operator read it, the borrower does not.
    expect((await facilityAs(w.t, OPERATOR_KEY, f.id)).freezeEvents).toEqual(res.data.freezeFacilityCredits.freezeEvents);
    expect((await facilityAs(w.t, w.buyer.key, f.id)).freezeEvents).toBeNull();
    expect((await facilityAs(w.t, w.buyer.key, f.id)).frozen).toBe(true);
    await expectBalanced(w.t);
  });

  it('usage while the financed credits are frozen: standard credits are spent, never the frozen ones (CREDITS_FROZEN beyond them)', async () => {
    expect((await freeze(w.t, w.lender.key, soloFacility.id, 'checking usage')).errors).toBeUndefined();
    const used = await useCredits(w.t, solo, '40', 'solo-1');
    expect(used.errors).toBeUndefined();
    expect(used.data.recordUsage).toEqual({ eventId: 'solo-1', credits: '40.000000', duplicate: false });
    let balance = await creditBalanceOf(w.t, solo);
    expect([balance.available, balance.frozen]).toEqual(['60.000000', '7840.000000']);
    expect(balance.blocks.find((b: any) => b.type === 'FINANCED')).toMatchObject({ status: 'FROZEN', remaining: '7840.000000' });
    // 70 credits: the 60 available cannot cover it, the frozen ones would have.
    const before = await financingState(w.t);
    expect((await useCredits(w.t, solo, '70', 'solo-2')).code).toBe('CREDITS_FROZEN');
    expect(await financingState(w.t)).toEqual(before);
    // Unfrozen, the financed block (it expires, the standard one does not) is spent first.
    expect((await unfreeze(w.t, w.lender.key, soloFacility.id)).errors).toBeUndefined();
    expect((await useCredits(w.t, solo, '70', 'solo-3')).errors).toBeUndefined();
    balance = await creditBalanceOf(w.t, solo);
    expect(balance.blocks.map((b: any) => [b.type, b.remaining])).toEqual(
      expect.arrayContaining([
        ['FINANCED', '7770.000000'],
        ['STANDARD', '60.000000'],
      ]),
    );
    expect([balance.available, balance.frozen]).toEqual(['7830.000000', '0.000000']);
    await expectBalanced(w.t);
  });

  it('freezing twice → INVALID_STATE; the borrower cannot unfreeze (FORBIDDEN), nor another lender (NOT_FOUND)', async () => {
    const before = await financingState(w.t);
    expect((await freeze(w.t, w.lender.key, f.id, 'again')).code).toBe('INVALID_STATE');
    expect((await unfreeze(w.t, w.buyer.key, f.id)).code).toBe('FORBIDDEN');
    expect((await unfreeze(w.t, w.otherLender.key, f.id)).code).toBe('NOT_FOUND');
    expect((await recover(w.t, w.buyer.key, f.id)).code).toBe('FORBIDDEN');
    // Frozen by hand while DELINQUENT is not DEFAULTED: no recovery.
    expect((await recover(w.t, w.lender.key, f.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
  });

  it('the lender unfreezes: the block ACTIVE again, audited; unfreezing twice → INVALID_STATE', async () => {
    const res = await unfreeze(w.t, w.lender.key, f.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.unfreezeFacilityCredits).toMatchObject({ status: 'DELINQUENT', frozen: false, creditBlock: { status: 'ACTIVE', remaining: f.creditsGranted } });
    expect(res.data.unfreezeFacilityCredits.freezeEvents.map((e: any) => [e.action, e.actorId, e.reason])).toEqual([
      ['FREEZE', w.lender.id, 'borrower stopped answering'],
      ['UNFREEZE', w.lender.id, 'unfrozen by the lender'],
    ]);
    expect((await creditBalanceOf(w.t, w.buyer)).frozen).toBe('0.000000');
    const before = await financingState(w.t);
    expect((await unfreeze(w.t, w.lender.key, f.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
    // f2 is frozen by hand and stays frozen into its default.
    expect((await freeze(w.t, w.lender.key, f2.id, 'watching')).errors).toBeUndefined();
    await expectBalanced(w.t);
  });

  it('default: the controller freezes f (actor null) at the instant; f2, already frozen, gets no second event', async () => {
    const at = plusDays(due1, 30);
    await clockTo(w.t, plusDays(due1, 31));
    const v = await facilityOf(w.t, f.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', frozen: true, daysPastDue: 31 });
    expect(v.freezeEvents.map((e: any) => [e.action, e.actorId, e.at])).toEqual([
      ['FREEZE', w.lender.id, plusDays(due1, 6)],
      ['UNFREEZE', w.lender.id, plusDays(due1, 6)],
      ['FREEZE', null, at],
    ]);
    const v2 = await facilityOf(w.t, f2.id);
    expect(v2).toMatchObject({ status: 'DEFAULTED', frozen: true });
    expect(v2.freezeEvents.map((e: any) => e.action)).toEqual(['FREEZE']);
    expect((await freeze(w.t, w.lender.key, f.id, 'more')).code).toBe('INVALID_STATE');
    await expectBalanced(w.t);
  });

  it('DEFAULTED is sticky: paying all the arrears keeps it DEFAULTED and frozen, through servicing too', async () => {
    const arrears = sumOf(SMALL_SCHEDULE, 'payment', 1, 2);
    expect((await facilityOf(w.t, f.id)).pastDueAmount).toBe(arrears);
    const r = await repayOk(w.t, w.buyer, f.id, arrears);
    expect(r.facility).toMatchObject({ status: 'DEFAULTED', frozen: true, daysPastDue: 0, pastDueAmount: '0.00' });
    await clockTo(w.t, plusDays(due1, 33));
    expect(await facilityOf(w.t, f.id)).toMatchObject({ status: 'DEFAULTED', frozen: true, daysPastDue: 0 });
    await expectBalanced(w.t);
  });

  it('the lender unfreezes: the status follows DPD again (ACTIVE); no recovery of an ACTIVE facility', async () => {
    const res = await unfreeze(w.t, w.lender.key, f.id, 'arrears paid');
    expect(res.errors).toBeUndefined();
    expect(res.data.unfreezeFacilityCredits).toMatchObject({ status: 'ACTIVE', frozen: false, creditBlock: { status: 'ACTIVE' } });
    expect(res.data.unfreezeFacilityCredits.freezeEvents.at(-1)).toMatchObject({ action: 'UNFREEZE', actorId: w.lender.id, reason: 'arrears paid', at: plusDays(due1, 33) });
    const before = await financingState(w.t);
    expect((await recover(w.t, w.lender.key, f.id)).code).toBe('INVALID_STATE');
    await clockTo(w.t, plusDays(due1, 34));
    expect(await facilityOf(w.t, f.id)).toMatchObject({ status: 'ACTIVE', frozen: false });
    expect((await financingState(w.t)).facilities).toEqual(before.facilities);
    await expectBalanced(w.t);
  });

  it('unfrozen with the arrears unpaid: still DEFAULTED by DPD but the credits ACTIVE, so recovery → INVALID_STATE; paying the arrears then cures it', async () => {
    const res = await unfreeze(w.t, w.lender.key, f2.id, 'gave them time');
    expect(res.data.unfreezeFacilityCredits).toMatchObject({ status: 'DEFAULTED', frozen: false, creditBlock: { status: 'ACTIVE' } });
    const before = await financingState(w.t);
    expect((await recover(w.t, w.lender.key, f2.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
    // No longer sticky: servicing does not freeze it again, and paying the arrears cures it.
    await clockTo(w.t, plusDays(due1, 35));
    expect(await facilityOf(w.t, f2.id)).toMatchObject({ status: 'DEFAULTED', frozen: false });
    const r = await repayOk(w.t, w.buyer, f2.id, sumOf(SMALL_SCHEDULE, 'payment', 1, 2));
    expect(r.facility).toMatchObject({ status: 'ACTIVE', daysPastDue: 0, frozen: false });
    await expectBalanced(w.t);
  });

  it('unfrozen while DEFAULTED, the lender may freeze it again by hand and then recover', async () => {
    expect(await facilityOf(w.t, f4.id)).toMatchObject({ status: 'DEFAULTED', frozen: true });
    expect((await unfreeze(w.t, w.lender.key, f4.id, 'one more chance')).data.unfreezeFacilityCredits).toMatchObject({ status: 'DEFAULTED', frozen: false });
    const refrozen = await freeze(w.t, w.lender.key, f4.id, 'no payment came');
    expect(refrozen.data.freezeFacilityCredits).toMatchObject({ status: 'DEFAULTED', frozen: true });
    expect(refrozen.data.freezeFacilityCredits.freezeEvents.map((e: any) => [e.action, e.actorId, e.reason])).toEqual([
      ['FREEZE', null, expect.stringContaining('30 days past due')],
      ['UNFREEZE', w.lender.id, 'one more chance'],
      ['FREEZE', w.lender.id, 'no payment came'],
    ]);
    const res = await recover(w.t, w.lender.key, f4.id);
    expect(res.errors).toBeUndefined();
    // Owed: all the principal and the interest of #1 and #2; proceeds 0.80 × 11,760.00 = 9,408.00.
    const owed = D('12000.00').plus(sumOf(SMALL_SCHEDULE, 'interest', 1, 2));
    expect(res.data.recoverFrozenCredits).toMatchObject({ amountRecovered: '9408.00', chargedOffAmount: owed.minus('9408.00').toFixed(2), facility: { status: 'CHARGED_OFF' } });
    await expectBalanced(w.t);
  });

  it('a frozen DEFAULTED facility repaid in full: REPAID, the block unfrozen by the controller and no longer expiring', async () => {
    const v = await facilityOf(w.t, f3.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', frozen: true });
    const payoff = (await facilityAs(w.t, OPERATOR_KEY, f3.id)).payoffAmount;
    const r = await repayOk(w.t, w.buyer, f3.id, payoff);
    expect(r.facility).toMatchObject({
      status: 'REPAID',
      frozen: false,
      outstandingPrincipal: '0.00',
      creditBlock: { status: 'ACTIVE', expiresAt: null, remaining: f3.creditsGranted },
    });
    const events = (await facilityOf(w.t, f3.id)).freezeEvents;
    expect(events.map((e: any) => [e.action, e.actorId, e.reason])).toEqual([
      ['FREEZE', null, expect.stringContaining('30 days past due')],
      ['UNFREEZE', null, 'repaid in full'],
    ]);
    expect(await facilityLedger(w.t, f3.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    // Nothing of the buyer's is frozen any more.
    expect((await creditBalanceOf(w.t, w.buyer)).frozen).toBe('0.000000');
    await expectBalanced(w.t);
  });
});

describe('recovery', () => {
  let w: World;
  let loss: any; // the check loan, recoveryRate 0.654321, #1 paid
  let surplus: any; // 10,000.00 for 3 months, grace 2, default 10, #1 paid and 50.00 of principal ahead
  let used: any; // 12,000.00 for 6 months (7,840 credits), 0.001 credits used before its default
  let user: Org;

  beforeAll(async () => {
    w = await world();
    loss = await open(w, { principal: '100000.00', apr: '0.18', termMonths: 12, recoveryRate: '0.654321' });
    await repayOk(w.t, w.buyer, loss.id, '9168.00');
    surplus = await open(w, { ...SHORT, graceDays: 2, defaultAfterDaysPastDue: 10 });
    await repayOk(w.t, w.buyer, surplus.id, D(SHORT_SCHEDULE[0].payment).plus('50.00').toFixed(2));
    user = await register(w.t, 'BUYER');
    used = await open(w, SMALL, user);
    expect((await useCredits(w.t, user, '0.001')).errors).toBeUndefined();
  });
  afterAll(async () => {
    await w.t.close();
  });

  it('not DEFAULTED → INVALID_STATE (ACTIVE, then DELINQUENT); nothing changes', async () => {
    let before = await financingState(w.t);
    expect((await recover(w.t, w.lender.key, loss.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
    await clockTo(w.t, '2026-03-16T12:00:00.000Z');
    expect((await facilityOf(w.t, loss.id)).status).toBe('DELINQUENT');
    before = await financingState(w.t);
    expect((await recover(w.t, w.lender.key, loss.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
  });

  it('with a surplus: past-due interest, then principal to the lender, the rest to the borrower; REPAID', async () => {
    const v = await facilityOf(w.t, surplus.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', frozen: true });
    expect(v.freezeEvents.map((e: any) => e.at)).toEqual([plusDays(SHORT_SCHEDULE[1].dueDate, 10)]);
    // Owed on Mar 16: the principal left (#2 and #3) and #2's unpaid interest; #3's interest (not
    // yet due) is cancelled. The 50.00 paid with #1 was principal ahead (SPEC §7): #2 and #3 were
    // re-amortized on 6,649.78, so #2's interest is 6,649.78 × 0.01 = 66.50.
    const principalLeft = D('10000.00').minus(SHORT_SCHEDULE[0].principal).minus('50.00');
    const dueInterest = D('66.50');
    const owed = principalLeft.plus(dueInterest);
    const credits = creditsFor('9800.00');
    const proceeds = D(FINANCING.recoveryRate).times(credits).times('9800.00').div(credits).decimalPlaces(2, Decimal.ROUND_DOWN);
    const extra = proceeds.minus(owed);
    expect([owed.toFixed(2), proceeds.toFixed(2), extra.toFixed(2)]).toEqual(['6716.28', '7840.00', '1123.72']);

    const before = {
      lender: await ledgerBalance(w.t, walletCode(w.lender)),
      buyer: await ledgerBalance(w.t, walletCode(w.buyer)),
      treasury: await ledgerBalance(w.t, TREASURY),
      inventory: await ledgerBalance(w.t, INVENTORY),
    };
    const res = await recover(w.t, w.lender.key, surplus.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.recoverFrozenCredits).toMatchObject({
      creditsRecovered: credits.toFixed(6),
      amountRecovered: proceeds.toFixed(2),
      surplus: extra.toFixed(2),
      chargedOffAmount: '0.00',
      facility: {
        status: 'REPAID',
        recoveredAmount: proceeds.toFixed(2),
        chargedOffAmount: '0.00',
        outstandingPrincipal: '0.00',
        pastDueAmount: '0.00',
        frozen: false,
        creditBlock: { status: 'RECOVERED', remaining: '0.000000' },
      },
    });
    expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(before.lender).toFixed(2)).toBe(owed.toFixed(2));
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(before.buyer).toFixed(2)).toBe(extra.toFixed(2));
    expect((await ledgerBalance(w.t, TREASURY)).minus(before.treasury).toFixed(2)).toBe(proceeds.negated().toFixed(2));
    expect((await ledgerBalance(w.t, INVENTORY)).minus(before.inventory).toFixed(6)).toBe(credits.toFixed(6));
    expect((await ledgerBalance(w.t, blockCode(surplus.creditBlock.id))).toFixed(6)).toBe('0.000000');
    expect(await facilityLedger(w.t, surplus.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    // Settled: no more repayments, freezes or recoveries.
    const after = await financingState(w.t);
    expect((await repay(w.t, w.buyer.key, surplus.id, '1.00')).code).toBe('INVALID_STATE');
    expect((await recover(w.t, w.lender.key, surplus.id)).code).toBe('INVALID_STATE');
    expect((await unfreeze(w.t, w.lender.key, surplus.id)).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(after);
    await expectBalanced(w.t);
  });

  it('a partly used block: only the remaining credits are bought back, at their cost basis, rounded DOWN', async () => {
    expect(await facilityOf(w.t, used.id)).toMatchObject({ status: 'DEFAULTED', frozen: true, creditBlock: { remaining: '7839.999000' } });
    const remaining = D('7839.999');
    // 0.80 × 7,839.999 × 11,760.00 ÷ 7,840 = 9,407.9988 → 9,407.99 (HALF_UP would give 9,408.00).
    const proceeds = D(FINANCING.recoveryRate).times(remaining).times('11760.00').div('7840').decimalPlaces(2, Decimal.ROUND_DOWN);
    expect(proceeds.toFixed(2)).toBe('9407.99');
    // Owed on Mar 16: all the principal, the interest of #1 and #2.
    const owed = D('12000.00').plus(sumOf(SMALL_SCHEDULE, 'interest', 1, 2));
    const inventory = await ledgerBalance(w.t, INVENTORY);
    const res = await recover(w.t, w.lender.key, used.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.recoverFrozenCredits).toMatchObject({
      creditsRecovered: remaining.toFixed(6),
      amountRecovered: proceeds.toFixed(2),
      surplus: '0.00',
      chargedOffAmount: owed.minus(proceeds).toFixed(2),
      facility: { status: 'CHARGED_OFF', creditBlock: { status: 'RECOVERED', remaining: '0.000000' } },
    });
    expect((await ledgerBalance(w.t, INVENTORY)).minus(inventory).toFixed(6)).toBe(remaining.toFixed(6));
    await expectBalanced(w.t);
  });

  it('with a loss: proceeds rounded DOWN to cents, the rest charged off (CHARGED_OFF), the credits to platform inventory', async () => {
    await clockTo(w.t, '2026-04-10T00:00:00.000Z');
    const schedule = expectedSchedule('100000.00', '0.18', 12, CLOCK_START);
    const v = await facilityOf(w.t, loss.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', frozen: true, daysPastDue: wholeDays(schedule[1].dueDate, '2026-04-10T00:00:00.000Z') });
    expect(v.freezeEvents.map((e: any) => e.at)).toEqual(['2026-04-04T12:00:00.000Z']);
    // Owed: principal after #1, plus the interest of #2 and #3 (both due by Apr 10).
    const principalLeft = D('100000.00').minus(schedule[0].principal);
    const owed = principalLeft.plus(schedule[1].interest).plus(schedule[2].interest);
    const credits = D(loss.creditsGranted);
    const exact = D('0.654321').times(credits).times('98000.00').div(credits);
    const proceeds = exact.decimalPlaces(2, Decimal.ROUND_DOWN);
    expect(exact.toFixed()).toBe('64123.458');
    expect(proceeds.toFixed(2)).toBe('64123.45');
    const chargedOff = owed.minus(proceeds);
    expect([owed.toFixed(2), chargedOff.toFixed(2)]).toEqual(['94985.21', '30861.76']);

    const before = {
      lender: await ledgerBalance(w.t, walletCode(w.lender)),
      buyer: await ledgerBalance(w.t, walletCode(w.buyer)),
      treasury: await ledgerBalance(w.t, TREASURY),
      inventory: await ledgerBalance(w.t, INVENTORY),
    };
    const res = await recover(w.t, w.lender.key, loss.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.recoverFrozenCredits).toMatchObject({
      creditsRecovered: credits.toFixed(6),
      amountRecovered: '64123.45',
      surplus: '0.00',
      chargedOffAmount: '30861.76',
      facility: {
        status: 'CHARGED_OFF',
        recoveredAmount: '64123.45',
        chargedOffAmount: '30861.76',
        outstandingPrincipal: '0.00',
        pastDueAmount: '0.00',
        daysPastDue: 0,
        frozen: false,
        creditBlock: { status: 'RECOVERED', remaining: '0.000000' },
      },
    });
    expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(before.lender).toFixed(2)).toBe('64123.45');
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(before.buyer).toFixed(2)).toBe('0.00');
    expect((await ledgerBalance(w.t, TREASURY)).minus(before.treasury).toFixed(2)).toBe('-64123.45');
    expect((await ledgerBalance(w.t, INVENTORY)).minus(before.inventory).toFixed(6)).toBe(credits.toFixed(6));
    expect((await ledgerBalance(w.t, blockCode(loss.creditBlock.id))).toFixed(6)).toBe('0.000000');
    expect(await facilityLedger(w.t, loss.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    const balance = await creditBalanceOf(w.t, w.buyer);
    expect([balance.available, balance.frozen]).toEqual(['0.000000', '0.000000']);

    const after = await financingState(w.t);
    expect((await recover(w.t, w.lender.key, loss.id)).code).toBe('INVALID_STATE');
    expect((await repay(w.t, w.buyer.key, loss.id, '1.00')).code).toBe('INVALID_STATE');
    expect((await freeze(w.t, w.lender.key, loss.id, 'x')).code).toBe('INVALID_STATE');
    expect((await unfreeze(w.t, w.lender.key, loss.id)).code).toBe('INVALID_STATE');
    // Servicing leaves a charged-off facility alone.
    await clockTo(w.t, '2026-05-10T00:00:00.000Z');
    expect(await financingState(w.t)).toEqual(after);
    await expectBalanced(w.t);
  });
});

describe('maturity', () => {
  let w: World;
  let repaid: any; // repaid in full on the first day
  let unpaid: any; // #1 and #2 paid, #3 (due at maturity) not
  let written: any; // the same, then recovered: nothing left to buy back

  beforeAll(async () => {
    w = await world();
    repaid = await open(w, SHORT);
    unpaid = await open(w, SHORT);
    written = await open(w, SHORT);
    // Paid off on the first day: the payoff amount (#1's interest and the principal, SPEC §7).
    const r = await repayOk(w.t, w.buyer, repaid.id, D('10000.00').plus(SHORT_SCHEDULE[0].interest).toFixed(2));
    expect(r.facility).toMatchObject({ status: 'REPAID', creditBlock: { expiresAt: null } });
    // #1 and #2 paid on their due dates, as scheduled.
    for (const i of SHORT_SCHEDULE.slice(0, 2)) {
      await clockTo(w.t, i.dueDate);
      await repayOk(w.t, w.buyer, written.id, i.payment);
      await repayOk(w.t, w.buyer, unpaid.id, i.payment);
    }
  });
  afterAll(async () => {
    await w.t.close();
  });

  const maturity = SHORT_SCHEDULE[2].dueDate;

  it('at maturity: the repaid facility keeps its credits; the unpaid one’s block expires, the facility still ACTIVE', async () => {
    expect(maturity).toBe('2026-04-05T12:00:00.000Z');
    await clockTo(w.t, maturity);
    expect(await facilityOf(w.t, repaid.id)).toMatchObject({ status: 'REPAID', creditBlock: { status: 'ACTIVE', remaining: repaid.creditsGranted, expiresAt: null } });
    const v = await facilityOf(w.t, unpaid.id);
    expect(v).toMatchObject({
      status: 'ACTIVE',
      daysPastDue: 0,
      pastDueAmount: SHORT_SCHEDULE[2].payment,
      outstandingPrincipal: SHORT_SCHEDULE[2].principal,
      maturityAt: maturity,
      creditBlock: { status: 'EXPIRED', remaining: '0.000000', expiresAt: maturity },
    });
    expect((await ledgerBalance(w.t, EXPIRED_CREDITS)).toFixed(6)).toBe(D(unpaid.creditsGranted).plus(written.creditsGranted).toFixed(6));
    expect(await facilityOf(w.t, written.id)).toMatchObject({ status: 'ACTIVE', creditBlock: { status: 'EXPIRED', remaining: '0.000000' } });
    const balance = await creditBalanceOf(w.t, w.buyer);
    expect(balance.available).toBe(D(repaid.creditsGranted).toFixed(6));
    await expectBalanced(w.t);
  });

  it('after maturity the DPD rules go on: DELINQUENT at 6 days, DEFAULTED at 30 (nothing left to freeze)', async () => {
    await clockTo(w.t, plusDays(maturity, 6));
    expect(await facilityOf(w.t, unpaid.id)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 6 });
    await clockTo(w.t, plusDays(maturity, 30));
    const v = await facilityOf(w.t, unpaid.id);
    expect(v).toMatchObject({ status: 'DEFAULTED', daysPastDue: 30, frozen: false, creditBlock: { status: 'EXPIRED' } });
    expect(v.freezeEvents).toEqual([]);
    const before = await financingState(w.t);
    expect((await freeze(w.t, w.lender.key, unpaid.id, 'late')).code).toBe('INVALID_STATE');
    expect(await financingState(w.t)).toEqual(before);
    // Paying the rest settles it; the expired block stays expired.
    const r = await repayOk(w.t, w.buyer, unpaid.id, SHORT_SCHEDULE[2].payment);
    expect(r.facility).toMatchObject({ status: 'REPAID', outstandingPrincipal: '0.00', creditBlock: { status: 'EXPIRED', remaining: '0.000000' } });
    expect(await facilityLedger(w.t, unpaid.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    await expectBalanced(w.t);
  });

  it('defaulted after its block expired: recovery buys back nothing and charges off all that is owed', async () => {
    expect(await facilityOf(w.t, written.id)).toMatchObject({ status: 'DEFAULTED', frozen: false, creditBlock: { status: 'EXPIRED' } });
    const lender = await walletOf(w.t, w.lender);
    const res = await recover(w.t, w.lender.key, written.id);
    expect(res.errors).toBeUndefined();
    expect(res.data.recoverFrozenCredits).toMatchObject({
      creditsRecovered: '0.000000',
      amountRecovered: '0.00',
      surplus: '0.00',
      chargedOffAmount: SHORT_SCHEDULE[2].payment,
      facility: { status: 'CHARGED_OFF', chargedOffAmount: SHORT_SCHEDULE[2].payment, outstandingPrincipal: '0.00', creditBlock: { remaining: '0.000000' } },
    });
    expect(await walletOf(w.t, w.lender)).toBe(lender);
    expect(await facilityLedger(w.t, written.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    // The lender: −30,000.00 lent; one facility paid off on day one (one month of interest), one
    // repaid as scheduled; #1 and #2 of the third.
    expect(await walletOf(w.t, w.lender)).toBe(
      D('1000000.00').minus('30000.00').plus('10100.00').plus(sumOf(SHORT_SCHEDULE, 'payment')).plus(sumOf(SHORT_SCHEDULE, 'payment', 1, 2)).toFixed(2),
    );
    await expectBalanced(w.t);
  });
});
