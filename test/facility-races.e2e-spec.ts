import { setTimeout as sleep } from 'node:timers/promises';
import { Decimal } from '@ccx/core';
import { CLOCK_START, OPERATOR_KEY, type TestApp } from './support/app.js';
import {
  count,
  facilityLedger,
  financingState,
  INVENTORY,
  ledgerBalance,
  ledgerTransactionCount,
  TREASURY,
  walletCode,
} from './support/db-probes.js';
import {
  accept,
  decline,
  facilityOf,
  financingWorld,
  type FinancingWorld,
  freeze,
  offerOk,
  openFacility,
  recover,
  repay,
} from './support/drivers/facilities.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { expectedSchedule, FINANCING, plusDays, sumOf } from './support/oracles.js';

/**
 * SPEC §7 under concurrency: requests that race for the same facility, wallet or market. Each
 * race is designed so that every interleaving has one exact, asserted outcome; each is followed
 * by the ledger invariants.
 */

const D = (v: string | number | Decimal) => new Decimal(v);
const creditsFor = (purchaseAmount: string) => D(purchaseAmount).div('1.50').decimalPlaces(6, Decimal.ROUND_DOWN);

/** 10,000.00 at 0.12 for 3 months: 3,400.22 (100.00 interest), 3,400.22 (67.00), 3,400.23 (33.67). */
const SHORT = { principal: '10000.00', apr: '0.12', termMonths: 3 } as const;
const SHORT_SCHEDULE = expectedSchedule('10000.00', '0.12', 3, CLOCK_START);
/** 12,000.00 at 0.24 for 6 months: 2,142.31 a month. */
const SMALL = { principal: '12000.00', apr: '0.24', termMonths: 6 } as const;
const SMALL_SCHEDULE = expectedSchedule('12000.00', '0.24', 6, CLOCK_START);

async function expectBalanced(t: TestApp): Promise<void> {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
}

const succeeded = <T extends { errors?: unknown }>(results: T[]): T[] => results.filter((r) => !r.errors);
const codes = (results: { code?: string }[]) => results.map((r) => r.code).filter(Boolean).sort();

let w: FinancingWorld;
beforeAll(async () => {
  w = await financingWorld();
});
afterAll(async () => {
  await w.t.close();
});

describe('repayments racing each other', () => {
  it('two repayments (different keys) each above half of what is owed: exactly one is applied, the other refused as an overpayment', async () => {
    const f = await openFacility(w, SHORT);
    expect(sumOf(SHORT_SCHEDULE, 'payment')).toBe('10200.67');
    const buyerBefore = await ledgerBalance(w.t, walletCode(w.buyer));
    const lenderBefore = await ledgerBalance(w.t, walletCode(w.lender));
    const results = await Promise.all([repay(w.t, w.buyer.key, f.id, '6000.00', 'race-a'), repay(w.t, w.buyer.key, f.id, '6000.00', 'race-b')]);
    expect(succeeded(results)).toHaveLength(1);
    expect(codes(results)).toEqual(['BAD_USER_INPUT']);
    // #1 in full (100.00 + 3,300.22), then 2,599.78 of principal ahead (SPEC §7: no interest early).
    expect(succeeded(results)[0].data.repayFacility).toMatchObject({ amount: '6000.00', interestPaid: '100.00', principalPaid: '5900.00' });
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyerBefore).toFixed(2)).toBe('-6000.00');
    expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(lenderBefore).toFixed(2)).toBe('6000.00');
    expect(await count(w.t, 'repayments', { facility_id: f.id })).toBe(1);
    expect(await facilityOf(w.t, f.id)).toMatchObject({ outstandingPrincipal: '4100.00', status: 'ACTIVE' });
    expect(await facilityLedger(w.t, f.id)).toEqual({ receivable: '4100.00', debt: '-4100.00' });
    await expectBalanced(w.t);
  });

  it('two repayments within the total: both applied, oldest first, whatever the order; nothing counted twice', async () => {
    const f = await openFacility(w, SHORT);
    const buyerBefore = await ledgerBalance(w.t, walletCode(w.buyer));
    const results = await Promise.all([repay(w.t, w.buyer.key, f.id, '5000.00', 'both-a'), repay(w.t, w.buyer.key, f.id, '5000.00', 'both-b')]);
    expect(succeeded(results)).toHaveLength(2);
    // Whichever ran first paid #1 (100.00 interest first) and 1,599.78 of principal ahead; the
    // second 5,000.00 of principal (no interest is earned beyond #1's, SPEC §7).
    const splits = results.map((r) => [r.data.repayFacility.interestPaid, r.data.repayFacility.principalPaid]).sort();
    expect(splits).toEqual(
      [
        ['100.00', '4900.00'],
        ['0.00', '5000.00'],
      ].sort(),
    );
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyerBefore).toFixed(2)).toBe('-10000.00');
    const v = await facilityOf(w.t, f.id);
    expect(v.outstandingPrincipal).toBe('100.00');
    // #2 re-amortized on the 100.00 left (interest 1.00) pays it off; #3 is nothing.
    expect(v.schedule.map((i: any) => [i.payment, i.interestPaid, i.principalPaid, i.status])).toEqual([
      ['10000.00', '100.00', '9900.00', 'PAID'],
      ['101.00', '0.00', '0.00', 'DUE'],
      ['0.00', '0.00', '0.00', 'PAID'],
    ]);
    expect(await facilityLedger(w.t, f.id)).toEqual({ receivable: '100.00', debt: '-100.00' });
    await expectBalanced(w.t);
  });

  it('the same key twice at once: one repayment, charged once, both answers the same', async () => {
    const f = await openFacility(w, SHORT);
    const buyerBefore = await ledgerBalance(w.t, walletCode(w.buyer));
    const txBefore = await ledgerTransactionCount(w.t);
    const results = await Promise.all(Array.from({ length: 4 }, () => repay(w.t, w.buyer.key, f.id, '1000.00', 'same-key')));
    expect(succeeded(results)).toHaveLength(4);
    expect(new Set(results.map((r) => r.data.repayFacility.id)).size).toBe(1);
    expect(results[0].data.repayFacility).toMatchObject({ amount: '1000.00', interestPaid: '100.00', principalPaid: '900.00' });
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyerBefore).toFixed(2)).toBe('-1000.00');
    expect(await ledgerTransactionCount(w.t)).toBe(txBefore + 1);
    expect(await count(w.t, 'repayments', { facility_id: f.id })).toBe(1);
    await expectBalanced(w.t);
  });

  it('the same key with two amounts at once: one applied, the other IDEMPOTENCY_CONFLICT', async () => {
    const f = await openFacility(w, SHORT);
    const buyerBefore = await ledgerBalance(w.t, walletCode(w.buyer));
    const results = await Promise.all([repay(w.t, w.buyer.key, f.id, '1000.00', 'two-amounts'), repay(w.t, w.buyer.key, f.id, '2000.00', 'two-amounts')]);
    expect(succeeded(results)).toHaveLength(1);
    expect(codes(results)).toEqual(['IDEMPOTENCY_CONFLICT']);
    const paid = succeeded(results)[0].data.repayFacility.amount;
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyerBefore).toFixed(2)).toBe(D(paid).negated().toFixed(2));
    expect(await count(w.t, 'repayments', { facility_id: f.id })).toBe(1);
    await expectBalanced(w.t);
  });

  it('two repayments draining a wallet that covers only one: one applied, the other INSUFFICIENT_FUNDS', async () => {
    const poor = await register(w.t, 'BUYER');
    await deposit(w.t, poor, '1500.00');
    const f = await openFacility(w, SHORT, poor);
    const results = await Promise.all([repay(w.t, poor.key, f.id, '1000.00', 'p-a'), repay(w.t, poor.key, f.id, '1000.00', 'p-b')]);
    expect(succeeded(results)).toHaveLength(1);
    expect(codes(results)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(await walletOf(w.t, poor)).toBe('500.00');
    expect(await facilityOf(w.t, f.id)).toMatchObject({ outstandingPrincipal: '9100.00' });
    await expectBalanced(w.t);
  });
});

describe('acceptance racing', () => {
  it('two accepts at once: one facility, one block, the lender charged once', async () => {
    const f = await offerOk(w.t, w.lender, { borrowerId: w.buyer.id, ...SHORT });
    const lenderBefore = await ledgerBalance(w.t, walletCode(w.lender));
    const txBefore = await ledgerTransactionCount(w.t);
    const results = await Promise.all(Array.from({ length: 3 }, () => accept(w.t, w.buyer.key, f.id)));
    expect(succeeded(results)).toHaveLength(3);
    for (const r of results) expect(r.data.acceptFacility).toMatchObject({ id: f.id, status: 'ACTIVE', creditsGranted: creditsFor('9800.00').toFixed(6) });
    expect(new Set(results.map((r) => r.data.acceptFacility.creditBlock.id)).size).toBe(1);
    expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(lenderBefore).toFixed(2)).toBe('-10000.00');
    expect(await ledgerTransactionCount(w.t)).toBe(txBefore + 1);
    expect(await count(w.t, 'credit_blocks', { facility_id: f.id })).toBe(1);
    expect(await count(w.t, 'installments', { facility_id: f.id })).toBe(3);
    await expectBalanced(w.t);
  });

  it('accept racing decline: exactly one wins, and the money matches the winner', async () => {
    const f = await offerOk(w.t, w.lender, { borrowerId: w.buyer.id, ...SHORT });
    const lenderBefore = await ledgerBalance(w.t, walletCode(w.lender));
    const [accepted, declined] = await Promise.all([accept(w.t, w.buyer.key, f.id), decline(w.t, w.buyer.key, f.id)]);
    const status = (await facilityOf(w.t, f.id)).status;
    const lenderDelta = (await ledgerBalance(w.t, walletCode(w.lender))).minus(lenderBefore).toFixed(2);
    if (status === 'ACTIVE') {
      expect(accepted.errors).toBeUndefined();
      expect(declined.code).toBe('INVALID_STATE');
      expect(lenderDelta).toBe('-10000.00');
    } else {
      expect(status).toBe('DECLINED');
      expect(declined.errors).toBeUndefined();
      expect(accepted.code).toBe('INVALID_STATE');
      expect(lenderDelta).toBe('0.00');
      expect(await count(w.t, 'credit_blocks', { facility_id: f.id })).toBe(0);
    }
    await expectBalanced(w.t);
  });

  it('two offers of one lender whose wallet funds only one, accepted at once by two buyers: one ACTIVE, one INSUFFICIENT_FUNDS', async () => {
    const lender = await register(w.t, 'LENDER');
    await deposit(w.t, lender, '15000.00');
    const b1 = await register(w.t, 'BUYER');
    const b2 = await register(w.t, 'BUYER');
    const f1 = await offerOk(w.t, lender, { borrowerId: b1.id, ...SHORT });
    const f2 = await offerOk(w.t, lender, { borrowerId: b2.id, ...SHORT });
    const results = await Promise.all([accept(w.t, b1.key, f1.id), accept(w.t, b2.key, f2.id)]);
    expect(succeeded(results)).toHaveLength(1);
    expect(codes(results)).toEqual(['INSUFFICIENT_FUNDS']);
    expect(await walletOf(w.t, lender)).toBe('5000.00');
    const statuses = [(await facilityOf(w.t, f1.id)).status, (await facilityOf(w.t, f2.id)).status].sort();
    expect(statuses).toEqual(['ACTIVE', 'OFFERED']);
    await expectBalanced(w.t);
  });
});

describe('racing the servicing run and each other on delinquent and defaulted facilities', () => {
  const due1 = SMALL_SCHEDULE[0].dueDate;
  const arrears = sumOf(SMALL_SCHEDULE, 'payment', 1, 2);
  const principalAfterArrears = D('12000.00').minus(SMALL_SCHEDULE[0].principal).minus(SMALL_SCHEDULE[1].principal).toFixed(2);
  let racing: any[];
  let recoverTwice: any;
  let recoverVsRepay: any;
  let freezeTwice: any;
  let lenderBefore: Decimal;
  let buyerBefore: Decimal;

  beforeAll(async () => {
    racing = [];
    for (let k = 0; k < 6; k++) racing.push(await openFacility(w, SMALL));
    recoverTwice = await openFacility(w, SMALL);
    recoverVsRepay = await openFacility(w, SMALL);
    freezeTwice = await openFacility(w, { ...SMALL, defaultAfterDaysPastDue: 90 });
    await w.t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to: plusDays(due1, 29) }, OPERATOR_KEY);
  });

  it('two freezes at once by the lender of a DELINQUENT facility: one applies, the other INVALID_STATE; one audit event', async () => {
    expect((await facilityOf(w.t, freezeTwice.id)).status).toBe('DELINQUENT');
    const results = await Promise.all([freeze(w.t, w.lender.key, freezeTwice.id, 'first'), freeze(w.t, w.lender.key, freezeTwice.id, 'second')]);
    expect(succeeded(results)).toHaveLength(1);
    expect(codes(results)).toEqual(['INVALID_STATE']);
    const events = (await facilityOf(w.t, freezeTwice.id)).freezeEvents;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'FREEZE', actorId: w.lender.id });
    await expectBalanced(w.t);
  });

  it('repayments of the arrears racing the servicing run that defaults them: each facility consistent with one order, nothing counted twice', async () => {
    for (const f of racing) expect(await facilityOf(w.t, f.id)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 29, pastDueAmount: arrears });
    lenderBefore = await ledgerBalance(w.t, walletCode(w.lender));
    buyerBefore = await ledgerBalance(w.t, walletCode(w.buyer));
    const defaultAt = plusDays(due1, 30);
    const [advanced, ...paid] = await Promise.all([
      w.t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to: defaultAt }, OPERATOR_KEY),
      // Staggered, so that some repayments tend to land before servicing reaches their facility
      // and some after; every interleaving must be consistent.
      ...racing.map((f, k) => sleep(k * 40).then(() => repay(w.t, w.buyer.key, f.id, arrears, `arrears-${k}`))),
    ]);
    expect(advanced.errors).toBeUndefined();
    for (const r of paid) expect(r.errors).toBeUndefined();
    // A later servicing run settles whatever the race left.
    await w.t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to: plusDays(due1, 31) }, OPERATOR_KEY);
    for (const [k, f] of racing.entries()) {
      const v = await facilityOf(w.t, f.id);
      expect(paid[k].data.repayFacility).toMatchObject({ amount: arrears, interestPaid: sumOf(SMALL_SCHEDULE, 'interest', 1, 2), principalPaid: D('12000.00').minus(principalAfterArrears).toFixed(2) });
      expect(v).toMatchObject({ outstandingPrincipal: principalAfterArrears, pastDueAmount: '0.00', daysPastDue: 0 });
      if (v.status === 'DEFAULTED') {
        // Servicing won: defaulted and frozen at the default instant; the repayment applied after
        // it and, DEFAULTED being sticky, did not cure it.
        expect(v.frozen).toBe(true);
        expect(v.freezeEvents).toEqual([{ action: 'FREEZE', actorId: null, reason: expect.any(String), at: defaultAt }]);
      } else {
        // The repayment won: never defaulted, never frozen.
        expect(v).toMatchObject({ status: 'ACTIVE', frozen: false, freezeEvents: [] });
      }
      expect(await count(w.t, 'repayments', { facility_id: f.id })).toBe(1);
      expect(await facilityLedger(w.t, f.id)).toEqual({ receivable: principalAfterArrears, debt: D(principalAfterArrears).negated().toFixed(2) });
    }
    const total = D(arrears).times(racing.length);
    expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyerBefore).toFixed(2)).toBe(total.negated().toFixed(2));
    expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(lenderBefore).toFixed(2)).toBe(total.toFixed(2));
    await expectBalanced(w.t);
  });

  it('two recoveries at once: exactly one succeeds, the other INVALID_STATE; paid once', async () => {
    expect(await facilityOf(w.t, recoverTwice.id)).toMatchObject({ status: 'DEFAULTED', frozen: true });
    const lender = await ledgerBalance(w.t, walletCode(w.lender));
    const treasury = await ledgerBalance(w.t, TREASURY);
    const inventory = await ledgerBalance(w.t, INVENTORY);
    const results = await Promise.all([recover(w.t, w.lender.key, recoverTwice.id), recover(w.t, w.lender.key, recoverTwice.id)]);
    expect(succeeded(results)).toHaveLength(1);
    expect(codes(results)).toEqual(['INVALID_STATE']);
    // Owed at due + 31 days: all the principal and the interest of #1 and #2; proceeds 0.80 × 11,760.00.
    const owed = D('12000.00').plus(sumOf(SMALL_SCHEDULE, 'interest', 1, 2));
    const proceeds = D(FINANCING.recoveryRate).times('11760.00').decimalPlaces(2, Decimal.ROUND_DOWN);
    expect(succeeded(results)[0].data.recoverFrozenCredits).toMatchObject({
      amountRecovered: proceeds.toFixed(2),
      chargedOffAmount: owed.minus(proceeds).toFixed(2),
      surplus: '0.00',
      creditsRecovered: creditsFor('11760.00').toFixed(6),
      facility: { status: 'CHARGED_OFF' },
    });
    expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(lender).toFixed(2)).toBe(proceeds.toFixed(2));
    expect((await ledgerBalance(w.t, TREASURY)).minus(treasury).toFixed(2)).toBe(proceeds.negated().toFixed(2));
    expect((await ledgerBalance(w.t, INVENTORY)).minus(inventory).toFixed(6)).toBe(creditsFor('11760.00').toFixed(6));
    expect(await count(w.t, 'recoveries', { facility_id: recoverTwice.id })).toBe(1);
    expect(await facilityLedger(w.t, recoverTwice.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    await expectBalanced(w.t);
  });

  it('a recovery racing a repayment of the arrears: either order gives its own exact figures', async () => {
    const lender = await ledgerBalance(w.t, walletCode(w.lender));
    const buyer = await ledgerBalance(w.t, walletCode(w.buyer));
    const [recovered, repaid] = await Promise.all([recover(w.t, w.lender.key, recoverVsRepay.id), repay(w.t, w.buyer.key, recoverVsRepay.id, arrears, 'vs-recovery')]);
    expect(recovered.errors).toBeUndefined();
    const proceeds = D('9408.00');
    const v = await facilityOf(w.t, recoverVsRepay.id);
    if (repaid.errors) {
      // Recovery first: the loan was accelerated and charged off; the repayment found it settled.
      expect(repaid.code).toBe('INVALID_STATE');
      const owed = D('12000.00').plus(sumOf(SMALL_SCHEDULE, 'interest', 1, 2));
      expect(recovered.data.recoverFrozenCredits).toMatchObject({ surplus: '0.00', chargedOffAmount: owed.minus(proceeds).toFixed(2) });
      expect(v.status).toBe('CHARGED_OFF');
      expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyer).toFixed(2)).toBe('0.00');
      expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(lender).toFixed(2)).toBe(proceeds.toFixed(2));
    } else {
      // Repayment first: the recovery owed only the principal left, and returned the surplus.
      const owed = D(principalAfterArrears);
      expect(recovered.data.recoverFrozenCredits).toMatchObject({ surplus: proceeds.minus(owed).toFixed(2), chargedOffAmount: '0.00' });
      expect(v.status).toBe('REPAID');
      expect((await ledgerBalance(w.t, walletCode(w.buyer))).minus(buyer).toFixed(2)).toBe(proceeds.minus(owed).minus(arrears).toFixed(2));
      expect((await ledgerBalance(w.t, walletCode(w.lender))).minus(lender).toFixed(2)).toBe(owed.plus(arrears).toFixed(2));
    }
    expect(await count(w.t, 'recoveries', { facility_id: recoverVsRepay.id })).toBe(1);
    expect(await facilityLedger(w.t, recoverVsRepay.id)).toEqual({ receivable: '0.00', debt: '0.00' });
    await expectBalanced(w.t);
  });

  it('afterwards: everything the races touched is stable under another servicing run', async () => {
    const before = await financingState(w.t);
    await w.t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to: plusDays(due1, 31) }, OPERATOR_KEY);
    expect(await financingState(w.t)).toEqual(before);
    await expectBalanced(w.t);
  });
});
