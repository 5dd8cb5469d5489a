import { Decimal } from '@ccx/core';
import { amortizationSchedule, regulationZApr } from '@ccx/finance';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import {
  blockCode,
  count,
  facilityLedger,
  financingState,
  ledgerBalance,
  ledgerTransactionCount,
  REVENUE,
  walletCode,
} from './support/db-probes.js';
import {
  accept,
  acceptOk,
  clockTo,
  decline,
  facilitiesAs,
  facilityAs,
  facilityOf,
  freeze,
  offer,
  type OfferInput,
  offerOk,
  recover,
  repay,
  repayOk,
  unfreeze,
} from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { blocksOf, creditBalanceOf } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register, registerPending } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { expectedDisclosedApr, expectedFee, expectedSchedule, FINANCING, sumOf } from './support/oracles.js';

/**
 * SPEC §7 end to end: offers and their validation, the disclosure, acceptance (the lender's
 * principal buying wholesale capacity), the schedule, repayments and who may do what.
 * Delinquency, the freeze controller, recovery and maturity: facility-servicing.e2e-spec.ts;
 * races: facility-races.e2e-spec.ts.
 */

const D = (v: string | number | Decimal) => new Decimal(v);
const usd = (v: Decimal) => v.decimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2);
/** Credits bought with `amount` at one listing's cost per credit: rounded DOWN to micro-credits. */
const creditsFor = (amount: string, costPerCredit: string) => D(amount).div(costPerCredit).decimalPlaces(6, Decimal.ROUND_DOWN);

const CHECK_LOAN = { principal: '100000.00', apr: '0.18', termMonths: 12 } as const;

async function expectBalanced(t: TestApp): Promise<void> {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
}

describe('offers, acceptance, the schedule and repayments (one listing at 1.50 per credit)', () => {
  let t: TestApp;
  let seller: Org;
  let lender: Org;
  let otherLender: Org;
  let buyer: Org;
  let otherBuyer: Org;

  beforeAll(async () => {
    t = await startTestApp();
    seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
    lender = await register(t, 'LENDER');
    otherLender = await register(t, 'LENDER');
    buyer = await register(t, 'BUYER');
    otherBuyer = await register(t, 'BUYER');
  });
  afterAll(async () => {
    await t.close();
  });

  describe('offer validation', () => {
    const base = (): OfferInput => ({ borrowerId: buyer.id, ...CHECK_LOAN });
    const cases: [string, (b: OfferInput) => OfferInput, string][] = [
      ['principal zero', (b) => ({ ...b, principal: '0' }), 'BAD_USER_INPUT'],
      ['principal negative', (b) => ({ ...b, principal: '-100.00' }), 'BAD_USER_INPUT'],
      ['principal with 3 decimals', (b) => ({ ...b, principal: '100.001' }), 'BAD_USER_INPUT'],
      ['principal in exponent notation', (b) => ({ ...b, principal: '1e5' }), 'BAD_USER_INPUT'],
      ['principal NaN', (b) => ({ ...b, principal: 'NaN' }), 'BAD_USER_INPUT'],
      ['principal Infinity', (b) => ({ ...b, principal: 'Infinity' }), 'BAD_USER_INPUT'],
      ['principal not a number', (b) => ({ ...b, principal: 'lots' }), 'BAD_USER_INPUT'],
      ['principal too small to amortize over the term', (b) => ({ ...b, principal: '0.10' }), 'BAD_USER_INPUT'],
      ['apr negative', (b) => ({ ...b, apr: '-0.01' }), 'BAD_USER_INPUT'],
      ['apr as a percentage (18 for 18%)', (b) => ({ ...b, apr: '18' }), 'BAD_USER_INPUT'],
      ['apr above 1', (b) => ({ ...b, apr: '1.01' }), 'BAD_USER_INPUT'],
      ['apr not a number', (b) => ({ ...b, apr: 'x' }), 'BAD_USER_INPUT'],
      ['apr with 7 decimals', (b) => ({ ...b, apr: '0.1800001' }), 'BAD_USER_INPUT'],
      ['termMonths zero', (b) => ({ ...b, termMonths: 0 }), 'BAD_USER_INPUT'],
      ['termMonths negative', (b) => ({ ...b, termMonths: -12 }), 'BAD_USER_INPUT'],
      ['termMonths above 360', (b) => ({ ...b, termMonths: 361 }), 'BAD_USER_INPUT'],
      ['graceDays negative', (b) => ({ ...b, graceDays: -1 }), 'BAD_USER_INPUT'],
      ['defaultAfterDaysPastDue equal to graceDays', (b) => ({ ...b, graceDays: 10, defaultAfterDaysPastDue: 10 }), 'BAD_USER_INPUT'],
      ['defaultAfterDaysPastDue below graceDays', (b) => ({ ...b, graceDays: 10, defaultAfterDaysPastDue: 9 }), 'BAD_USER_INPUT'],
      ['defaultAfterDaysPastDue equal to the default grace (5)', (b) => ({ ...b, defaultAfterDaysPastDue: 5 }), 'BAD_USER_INPUT'],
      ['defaultAfterDaysPastDue zero', (b) => ({ ...b, graceDays: 0, defaultAfterDaysPastDue: 0 }), 'BAD_USER_INPUT'],
      ['recoveryRate above 1', (b) => ({ ...b, recoveryRate: '1.01' }), 'BAD_USER_INPUT'],
      ['recoveryRate negative', (b) => ({ ...b, recoveryRate: '-0.5' }), 'BAD_USER_INPUT'],
      ['recoveryRate not a number', (b) => ({ ...b, recoveryRate: 'most' }), 'BAD_USER_INPUT'],
      ['unknown borrower', (b) => ({ ...b, borrowerId: '00000000-0000-4000-8000-000000000000' }), 'NOT_FOUND'],
      ['malformed borrower id', (b) => ({ ...b, borrowerId: 'not-an-id' }), 'NOT_FOUND'],
      ['a seller as borrower', (b) => ({ ...b, borrowerId: seller.id }), 'NOT_FOUND'],
      ['a lender as borrower (itself)', (b) => ({ ...b, borrowerId: lender.id }), 'NOT_FOUND'],
    ];

    it.each(cases)('%s → %s, nothing created', async (_label, change, code) => {
      const before = await financingState(t);
      const res = await offer(t, lender, change(base()));
      expect(res.code).toBe(code);
      expect(res.data).toBeNull();
      expect(JSON.stringify(res.errors)).not.toMatch(/at .*\.ts|SELECT|INSERT/);
      expect(await financingState(t)).toEqual(before);
    });

    it('the edges that are valid: apr 0 and 1, grace 0 with default 1, recoveryRate 0 and 1, one month', async () => {
      for (const input of [
        { ...base(), apr: '0' },
        { ...base(), apr: '1' },
        { ...base(), graceDays: 0, defaultAfterDaysPastDue: 1 },
        { ...base(), recoveryRate: '0' },
        { ...base(), recoveryRate: '1' },
        { ...base(), termMonths: 1 },
      ]) {
        const res = await offer(t, lender, input);
        expect(res.errors).toBeUndefined();
        expect(res.data.offerFacility.status).toBe('OFFERED');
      }
    });

    it('an offer to a suspended buyer is refused', async () => {
      const suspended = await register(t, 'BUYER');
      await t.gql(`mutation($id: ID!) { suspendOrganization(id: $id) { status } }`, { id: suspended.id }, OPERATOR_KEY);
      const before = await financingState(t);
      const res = await offer(t, lender, { ...base(), borrowerId: suspended.id });
      expect(res.code).toBe('INVALID_STATE');
      expect(await financingState(t)).toEqual(before);
    });
  });

  describe('the SPEC check loan: 100,000.00 at 0.18 for 12 months', () => {
    let f: any;
    const schedule = expectedSchedule('100000.00', '0.18', 12, CLOCK_START);

    it('our schedule maths reproduces SPEC §7 to the cent (and agrees with libs/finance)', () => {
      expect(schedule.map((i) => i.payment)).toEqual([...Array(11).fill('9168.00'), '9167.99']);
      expect(sumOf(schedule, 'interest')).toBe('10015.99');
      expect(sumOf(schedule, 'principal')).toBe('100000.00');
      const lib = amortizationSchedule({ principal: D('100000.00'), apr: D('0.18'), termMonths: 12, startDate: new Date(CLOCK_START) });
      expect(lib.map((i) => ({ number: i.number, dueDate: i.dueDate.toISOString(), payment: i.payment.toFixed(2), principal: i.principal.toFixed(2), interest: i.interest.toFixed(2) }))).toEqual(schedule);
    });

    it('the disclosed APR with the 2% fee as a prepaid finance charge is 0.2191 (our Appendix J solver and libs/finance agree)', () => {
      const ours = expectedDisclosedApr('98000.00', schedule.map((i) => i.payment));
      expect(ours).toBe('0.2191');
      const lib = regulationZApr({
        amountFinanced: D('98000.00'),
        payments: schedule.map((i) => ({ amount: D(i.payment), dueDate: new Date(i.dueDate) })),
        startDate: new Date(CLOCK_START),
      });
      expect(lib.toFixed(4)).toBe(ours);
      // SPEC's own check: with a 1% fee the same loan discloses 0.1994.
      expect(expectedDisclosedApr('99000.00', schedule.map((i) => i.payment))).toBe('0.1994');
    });

    it('offer: OFFERED with the fee, total interest, disclosed APR and the prospective schedule; nothing moves', async () => {
      const before = await financingState(t);
      f = await offerOk(t, lender, { borrowerId: buyer.id, ...CHECK_LOAN });
      expect(f).toMatchObject({
        status: 'OFFERED',
        principal: '100000.00',
        termMonths: 12,
        graceDays: 5,
        defaultAfterDaysPastDue: 30,
        financingFee: expectedFee('100000.00'),
        totalInterest: '10015.99',
        disclosedApr: '0.2191',
        creditsGranted: null,
        creditBlock: null,
        outstandingPrincipal: '0.00',
        pastDueAmount: '0.00',
        daysPastDue: 0,
        frozen: false,
        recoveredAmount: '0.00',
        chargedOffAmount: '0.00',
        acceptedAt: null,
        maturityAt: null,
        createdAt: CLOCK_START,
        lender: { id: lender.id },
        borrower: { id: buyer.id },
        freezeEvents: [],
      });
      expect(f.financingFee).toBe('2000.00');
      expect(D(f.apr).eq('0.18')).toBe(true);
      expect(D(f.recoveryRate).eq(FINANCING.recoveryRate)).toBe(true);
      // Before acceptance the schedule is the one acceptance now would give.
      expect(f.schedule).toEqual(schedule.map((i) => ({ ...i, principalPaid: '0.00', interestPaid: '0.00', status: 'DUE' })));
      // An offer moves no money and no credits.
      const after = await financingState(t);
      expect(after.market).toEqual(before.market);
      // The borrower sees the offer; the lender too; their freeze audit only the lender.
      expect((await facilityAs(t, buyer.key, f.id)).freezeEvents).toBeNull();
      expect((await facilityAs(t, lender.key, f.id)).freezeEvents).toEqual([]);
    });

    it('accept with the lender short of the principal → INSUFFICIENT_FUNDS; nothing changes', async () => {
      await deposit(t, lender, '99999.99');
      const before = await financingState(t);
      const res = await accept(t, buyer.key, f.id);
      expect(res.code).toBe('INSUFFICIENT_FUNDS');
      expect(res.data).toBeNull();
      expect(await financingState(t)).toEqual(before);
      expect((await facilityOf(t, f.id)).status).toBe('OFFERED');
    });

    it('accept: principal out of the lender, wholesale to the seller, the fee to the platform, a FINANCED block to maturity', async () => {
      await deposit(t, lender, '0.01');
      const credits = creditsFor('98000.00', '1.500000');
      const sellerPayout = usd(credits.times('1.500000'));
      const before = {
        lender: await ledgerBalance(t, walletCode(lender)),
        seller: await ledgerBalance(t, walletCode(seller)),
        buyer: await ledgerBalance(t, walletCode(buyer)),
        revenue: await ledgerBalance(t, REVENUE),
      };
      const accepted = await acceptOk(t, buyer, f.id);
      expect(credits.toFixed(6)).toBe('65333.333333');
      expect(sellerPayout).toBe('98000.00');
      const maturity = schedule[11].dueDate;
      expect(maturity).toBe('2027-01-05T12:00:00.000Z');
      expect(accepted).toMatchObject({
        id: f.id,
        status: 'ACTIVE',
        creditsGranted: credits.toFixed(6),
        outstandingPrincipal: '100000.00',
        pastDueAmount: '0.00',
        daysPastDue: 0,
        acceptedAt: CLOCK_START,
        maturityAt: maturity,
        frozen: false,
        financingFee: '2000.00',
        totalInterest: '10015.99',
        disclosedApr: '0.2191',
        creditBlock: {
          type: 'FINANCED',
          status: 'ACTIVE',
          granted: credits.toFixed(6),
          remaining: credits.toFixed(6),
          // The cost basis: purchase amount ÷ credits, 6 decimals.
          unitPrice: D('98000.00').div(credits).decimalPlaces(6, Decimal.ROUND_HALF_UP).toFixed(6),
          expiresAt: maturity,
          facilityId: f.id,
        },
      });
      expect(accepted.schedule).toEqual(schedule.map((i) => ({ ...i, principalPaid: '0.00', interestPaid: '0.00', status: 'DUE' })));
      expect((await ledgerBalance(t, walletCode(lender))).minus(before.lender).toFixed(2)).toBe('-100000.00');
      expect((await ledgerBalance(t, walletCode(seller))).minus(before.seller).toFixed(2)).toBe(sellerPayout);
      expect((await ledgerBalance(t, walletCode(buyer))).minus(before.buyer).toFixed(2)).toBe('0.00');
      // The platform keeps the fee plus whatever the payout rounding left: principal − payouts.
      expect((await ledgerBalance(t, REVENUE)).minus(before.revenue).toFixed(2)).toBe(D('100000.00').minus(sellerPayout).toFixed(2));
      expect(await walletOf(t, lender)).toBe('0.00');
      // The block holds its credits in the ledger; the facility's receivable is the principal.
      expect((await ledgerBalance(t, blockCode(accepted.creditBlock.id))).toFixed(6)).toBe(credits.toFixed(6));
      expect(await facilityLedger(t, f.id)).toEqual({ receivable: '100000.00', debt: '-100000.00' });
      // The buyer's balance shows the financed credits as available.
      const balance = await creditBalanceOf(t, buyer);
      expect(balance.available).toBe(credits.toFixed(6));
      expect(balance.frozen).toBe('0.000000');
      await expectBalanced(t);
    });

    it('accepting again answers the same facility and charges nothing', async () => {
      const before = await financingState(t);
      const again = await acceptOk(t, buyer, f.id);
      expect(again).toMatchObject({ id: f.id, status: 'ACTIVE', acceptedAt: CLOCK_START, creditsGranted: '65333.333333' });
      expect(await financingState(t)).toEqual(before);
      expect(await blocksOf(t, buyer)).toHaveLength(1);
    });

    it('declining an accepted facility → INVALID_STATE', async () => {
      const before = await financingState(t);
      expect((await decline(t, buyer.key, f.id)).code).toBe('INVALID_STATE');
      expect(await financingState(t)).toEqual(before);
    });

    describe('repayments: oldest installment first, interest before principal', () => {
      let lenderBefore: Decimal;

      it('the borrower short of money → INSUFFICIENT_FUNDS; nothing changes', async () => {
        lenderBefore = await ledgerBalance(t, walletCode(lender));
        await deposit(t, buyer, '999.99');
        const before = await financingState(t);
        const res = await repay(t, buyer.key, f.id, '1000.00', 'first');
        expect(res.code).toBe('INSUFFICIENT_FUNDS');
        expect(await financingState(t)).toEqual(before);
      });

      it('invalid repayments → BAD_USER_INPUT / NOT_FOUND; nothing changes', async () => {
        const before = await financingState(t);
        for (const amount of ['0', '-1.00', '1.001', 'abc', '1e3', 'NaN']) {
          expect((await repay(t, buyer.key, f.id, amount)).code).toBe('BAD_USER_INPUT');
        }
        expect((await repay(t, buyer.key, f.id, '1.00', '')).code).toBe('BAD_USER_INPUT');
        expect((await repay(t, buyer.key, '00000000-0000-4000-8000-000000000000', '1.00')).code).toBe('NOT_FOUND');
        expect((await repay(t, buyer.key, 'nope', '1.00')).code).toBe('NOT_FOUND');
        expect(await financingState(t)).toEqual(before);
      });

      it('a payment smaller than the first interest pays interest only (installment PARTIALLY_PAID)', async () => {
        await deposit(t, buyer, '0.01');
        const r = await repayOk(t, buyer, f.id, '1000.00', 'first');
        expect(r).toMatchObject({ amount: '1000.00', interestPaid: '1000.00', principalPaid: '0.00' });
        expect(r.facility.outstandingPrincipal).toBe('100000.00');
        expect(r.facility.schedule[0]).toMatchObject({ interestPaid: '1000.00', principalPaid: '0.00', status: 'PARTIALLY_PAID' });
        expect(r.facility.schedule[1]).toMatchObject({ interestPaid: '0.00', principalPaid: '0.00', status: 'DUE' });
        expect(await walletOf(t, buyer)).toBe('0.00');
        expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe('1000.00');
        // Interest is the lender's income: the receivable (principal) is untouched.
        expect(await facilityLedger(t, f.id)).toEqual({ receivable: '100000.00', debt: '-100000.00' });
        await expectBalanced(t);
      });

      it('a payment beyond the next installment: the rest of #1, then principal ahead — never #2 interest early', async () => {
        await deposit(t, buyer, '200000.00');
        const r = await repayOk(t, buyer, f.id, '10000.00', 'second');
        // #1: 500.00 interest left + 7,668.00 principal = 8,168.00; the other 1,832.00 is principal
        // paid ahead (SPEC §7): #2's interest is not earned yet.
        expect(r).toMatchObject({ amount: '10000.00', interestPaid: '500.00', principalPaid: '9500.00' });
        expect(r.facility.schedule[0]).toMatchObject({ principal: '9500.00', interestPaid: '1500.00', principalPaid: '9500.00', status: 'PAID' });
        // #2 onwards re-amortized on 90,500.00 with the same payment: 90,500.00 × 0.015 = 1,357.50.
        expect(r.facility.schedule[1]).toMatchObject({ payment: '9168.00', interest: '1357.50', principal: '7810.50', interestPaid: '0.00', status: 'DUE' });
        expect(r.facility.outstandingPrincipal).toBe('90500.00');
        expect(r.facility.payoffAmount).toBe('90500.00');
        // Paying ahead of the due dates: nothing is past due.
        expect(r.facility).toMatchObject({ status: 'ACTIVE', pastDueAmount: '0.00', daysPastDue: 0 });
        expect(await facilityLedger(t, f.id)).toEqual({ receivable: '90500.00', debt: '-90500.00' });
        expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe('11000.00');
        await expectBalanced(t);
      });

      it('idempotency: the same key and amount answers the same repayment, charged once; another amount → IDEMPOTENCY_CONFLICT', async () => {
        const before = await financingState(t);
        const first = (await t.db.dataSource.query(`SELECT id FROM repayments WHERE idempotency_key = 'first'`))[0].id;
        const again = await repayOk(t, buyer, f.id, '1000.00', 'first');
        expect(again).toMatchObject({ id: first, amount: '1000.00', interestPaid: '1000.00', principalPaid: '0.00' });
        // The same amount written differently is the same request.
        expect((await repayOk(t, buyer, f.id, '1000.0', 'first')).id).toBe(first);
        expect(await financingState(t)).toEqual(before);
        const conflict = await repay(t, buyer.key, f.id, '999.00', 'first');
        expect(conflict.code).toBe('IDEMPOTENCY_CONFLICT');
        expect(await financingState(t)).toEqual(before);
      });

      it('paying more than the payoff amount → BAD_USER_INPUT; nothing changes', async () => {
        // Payoff: the 90,500.00 of principal left; #1's interest is paid and later interest is not earned.
        const before = await financingState(t);
        const res = await repay(t, buyer.key, f.id, '90500.01');
        expect(res.code).toBe('BAD_USER_INPUT');
        expect(await financingState(t)).toEqual(before);
      });

      it('paying the payoff amount: REPAID, nothing outstanding, the receivable 0, the block no longer expires', async () => {
        const r = await repayOk(t, buyer, f.id, '90500.00', 'last');
        expect(r).toMatchObject({ amount: '90500.00', interestPaid: '0.00', principalPaid: '90500.00' });
        expect(r.facility).toMatchObject({
          status: 'REPAID',
          outstandingPrincipal: '0.00',
          pastDueAmount: '0.00',
          payoffAmount: '0.00',
          daysPastDue: 0,
          frozen: false,
          creditBlock: { status: 'ACTIVE', expiresAt: null, remaining: '65333.333333' },
        });
        expect(r.facility.schedule.every((i: any) => i.status === 'PAID')).toBe(true);
        expect(r.facility.schedule.every((i: any) => i.principalPaid === i.principal && i.interestPaid === i.interest)).toBe(true);
        expect(await facilityLedger(t, f.id)).toEqual({ receivable: '0.00', debt: '0.00' });
        // 100,000.00 of principal and one month of interest: nothing unearned.
        expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe('101500.00');
        expect(await walletOf(t, buyer)).toBe(D('200000.00').minus('10000.00').minus('90500.00').toFixed(2));
        // Repaid in full, not frozen: no freeze event either.
        expect((await facilityOf(t, f.id)).freezeEvents).toEqual([]);
        await expectBalanced(t);
      });

      it('a REPAID facility takes no repayment (INVALID_STATE), though a replayed key still answers', async () => {
        const before = await financingState(t);
        expect((await repay(t, buyer.key, f.id, '1.00', 'after-repaid')).code).toBe('INVALID_STATE');
        expect((await repayOk(t, buyer, f.id, '90500.00', 'last')).amount).toBe('90500.00');
        expect(await financingState(t)).toEqual(before);
        // Nor can it be frozen or recovered.
        expect((await freeze(t, lender.key, f.id, 'why not')).code).toBe('INVALID_STATE');
        expect((await recover(t, lender.key, f.id)).code).toBe('INVALID_STATE');
        expect(await financingState(t)).toEqual(before);
      });
    });
  });

  describe('decline', () => {
    it('DECLINED; declining again is a no-op; it cannot be accepted or repaid afterwards', async () => {
      const f = await offerOk(t, lender, { borrowerId: buyer.id, principal: '5000.00', apr: '0.12', termMonths: 6 });
      const before = await financingState(t);
      const declined = await decline(t, buyer.key, f.id);
      expect(declined.errors).toBeUndefined();
      expect(declined.data.declineFacility).toMatchObject({ id: f.id, status: 'DECLINED', creditBlock: null, acceptedAt: null });
      const again = await decline(t, buyer.key, f.id);
      expect(again.data.declineFacility.status).toBe('DECLINED');
      expect((await accept(t, buyer.key, f.id)).code).toBe('INVALID_STATE');
      expect((await repay(t, buyer.key, f.id, '1.00')).code).toBe('INVALID_STATE');
      expect((await freeze(t, lender.key, f.id, 'x')).code).toBe('INVALID_STATE');
      expect((await recover(t, lender.key, f.id)).code).toBe('INVALID_STATE');
      const after = await financingState(t);
      expect(after.market).toEqual(before.market);
      expect((after.facilities as any[]).find((x) => x.id === f.id).status).toBe('DECLINED');
    });

    it('an OFFERED facility takes no repayment and cannot be frozen or recovered', async () => {
      const f = await offerOk(t, lender, { borrowerId: buyer.id, principal: '5000.00', apr: '0.12', termMonths: 6 });
      const before = await financingState(t);
      expect((await repay(t, buyer.key, f.id, '1.00')).code).toBe('INVALID_STATE');
      expect((await freeze(t, lender.key, f.id, 'x')).code).toBe('INVALID_STATE');
      expect((await unfreeze(t, lender.key, f.id)).code).toBe('INVALID_STATE');
      expect((await recover(t, lender.key, f.id)).code).toBe('INVALID_STATE');
      expect(await financingState(t)).toEqual(before);
    });
  });

  describe('a suspended lender', () => {
    it('its offers cannot be accepted while it is suspended (INVALID_STATE), and can once it is active again', async () => {
      const l = await register(t, 'LENDER');
      await deposit(t, l, '1000.00');
      const f = await offerOk(t, l, { borrowerId: buyer.id, principal: '1000.00', apr: '0.12', termMonths: 3 });
      await t.gql(`mutation($id: ID!) { suspendOrganization(id: $id) { status } }`, { id: l.id }, OPERATOR_KEY);
      const before = await financingState(t);
      expect((await accept(t, buyer.key, f.id)).code).toBe('INVALID_STATE');
      expect(await financingState(t)).toEqual(before);
      await t.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: l.id }, OPERATOR_KEY);
      expect((await acceptOk(t, buyer, f.id)).status).toBe('ACTIVE');
      expect(await walletOf(t, l)).toBe('0.00');
      await expectBalanced(t);
    });
  });

  describe('access (SPEC §2)', () => {
    let f: any;
    let offered: any;
    let seller2: Org;

    beforeAll(async () => {
      seller2 = await register(t, 'SELLER');
      await deposit(t, lender, '2000.00');
      f = await offerOk(t, lender, { borrowerId: buyer.id, principal: '2000.00', apr: '0.12', termMonths: 3 });
      await acceptOk(t, buyer, f.id);
      offered = await offerOk(t, lender, { borrowerId: buyer.id, principal: '3000.00', apr: '0.12', termMonths: 3 });
    });

    it('only a lender offers: buyers, sellers, the operator and a PENDING lender are FORBIDDEN; anonymous UNAUTHENTICATED', async () => {
      const pendingLender = await registerPending(t, 'LENDER');
      const input = { borrowerId: buyer.id, principal: '100.00', apr: '0.1', termMonths: 2 };
      const before = await financingState(t);
      expect((await offer(t, buyer.key, input)).code).toBe('FORBIDDEN');
      expect((await offer(t, seller.key, input)).code).toBe('FORBIDDEN');
      expect((await offer(t, OPERATOR_KEY, input)).code).toBe('FORBIDDEN');
      expect((await offer(t, pendingLender.key, input)).code).toBe('FORBIDDEN');
      expect((await t.gql(`mutation($input: OfferFacilityInput!) { offerFacility(input: $input) { id } }`, { input })).code).toBe('UNAUTHENTICATED');
      expect(await financingState(t)).toEqual(before);
    });

    it('only the borrower accepts, declines and repays: other roles FORBIDDEN, another buyer NOT_FOUND', async () => {
      await deposit(t, otherBuyer, '100.00');
      const before = await financingState(t);
      for (const key of [lender.key, seller.key, OPERATOR_KEY]) {
        expect((await accept(t, key, offered.id)).code).toBe('FORBIDDEN');
        expect((await decline(t, key, offered.id)).code).toBe('FORBIDDEN');
        expect((await repay(t, key, f.id, '1.00')).code).toBe('FORBIDDEN');
      }
      expect((await accept(t, otherBuyer.key, offered.id)).code).toBe('NOT_FOUND');
      expect((await decline(t, otherBuyer.key, offered.id)).code).toBe('NOT_FOUND');
      expect((await repay(t, otherBuyer.key, f.id, '1.00')).code).toBe('NOT_FOUND');
      expect((await accept(t, null as unknown as string, offered.id)).code).toBe('UNAUTHENTICATED');
      expect(await financingState(t)).toEqual(before);
    });

    it('only its lender freezes, unfreezes and recovers: the borrower and other roles FORBIDDEN, another lender NOT_FOUND', async () => {
      const before = await financingState(t);
      for (const key of [buyer.key, otherBuyer.key, seller.key, OPERATOR_KEY]) {
        expect((await freeze(t, key, f.id, 'no')).code).toBe('FORBIDDEN');
        expect((await unfreeze(t, key, f.id)).code).toBe('FORBIDDEN');
        expect((await recover(t, key, f.id)).code).toBe('FORBIDDEN');
      }
      expect((await freeze(t, otherLender.key, f.id, 'no')).code).toBe('NOT_FOUND');
      expect((await unfreeze(t, otherLender.key, f.id)).code).toBe('NOT_FOUND');
      expect((await recover(t, otherLender.key, f.id)).code).toBe('NOT_FOUND');
      expect(await financingState(t)).toEqual(before);
    });

    it('facilities lists only your own (the operator all; a seller none); facility(id) is null for strangers', async () => {
      const all = await t.db.dataSource.query(`SELECT id, lender_id, borrower_id FROM facilities ORDER BY created_at, id`);
      const ids = (rows: any[]) => rows.map((r) => r.id).sort();
      expect(ids(await facilitiesAs(t, OPERATOR_KEY))).toEqual(ids(all));
      expect(ids(await facilitiesAs(t, lender.key))).toEqual(ids(all.filter((r: any) => r.lender_id === lender.id)));
      expect(ids(await facilitiesAs(t, buyer.key))).toEqual(ids(all.filter((r: any) => r.borrower_id === buyer.id)));
      expect(await facilitiesAs(t, otherLender.key)).toEqual([]);
      expect(await facilitiesAs(t, otherBuyer.key)).toEqual([]);
      expect(await facilitiesAs(t, seller2.key)).toEqual([]);
      expect((await t.gql(`{ facilities { id } }`)).code).toBe('UNAUTHENTICATED');

      for (const key of [otherLender.key, otherBuyer.key, seller2.key]) expect(await facilityAs(t, key, f.id)).toBeNull();
      expect(await facilityAs(t, buyer.key, 'not-a-uuid')).toBeNull();
      expect(await facilityAs(t, buyer.key, '00000000-0000-4000-8000-000000000000')).toBeNull();
      expect((await t.gql(`query($id: ID!) { facility(id: $id) { id } }`, { id: f.id })).code).toBe('UNAUTHENTICATED');
      const asLender = await facilityAs(t, lender.key, f.id);
      const asBuyer = await facilityAs(t, buyer.key, f.id);
      const asOperator = await facilityAs(t, OPERATOR_KEY, f.id);
      expect(asLender.freezeEvents).toEqual([]);
      expect(asOperator.freezeEvents).toEqual([]);
      expect(asBuyer.freezeEvents).toBeNull();
      expect({ ...asBuyer, freezeEvents: [] }).toEqual(asLender);
      expect(asOperator).toEqual(asLender);
      await expectBalanced(t);
    });
  });
});

describe('acceptance fills at wholesale, cheapest listing first', () => {
  let t: TestApp;
  let cheap: Org;
  let dear: Org;
  let lender: Org;
  let buyer: Org;
  let cheapListing: any;
  let dearListing: any;

  beforeAll(async () => {
    t = await startTestApp();
    cheap = await register(t, 'SELLER');
    dear = await register(t, 'SELLER');
    lender = await register(t, 'LENDER');
    buyer = await register(t, 'BUYER');
    // Listed dearest first so that "cheapest first" is not "oldest first".
    dearListing = await createListing(t, dear, { gpuType: 'H100', gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
    // L40S: 0.35 credits per GPU-hour at 0.50 → 1.428571 per credit; 1,000 GPU-hours → 350 credits.
    cheapListing = await createListing(t, cheap, { gpuType: 'L40S', gpuHours: '1000', wholesalePricePerGpuHour: '0.50' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('the market short of capacity → INSUFFICIENT_CAPACITY; nothing changes', async () => {
    // Everything listed costs 350 × 1.428571 + 10,000 × 1.50 ≈ 15,500; this purchase needs 19,600.
    await deposit(t, lender, '20000.00');
    const f = await offerOk(t, lender, { borrowerId: buyer.id, principal: '20000.00', apr: '0.12', termMonths: 6 });
    const before = await financingState(t);
    const res = await accept(t, buyer.key, f.id);
    expect(res.code).toBe('INSUFFICIENT_CAPACITY');
    expect(await financingState(t)).toEqual(before);
    expect((await facilityOf(t, f.id)).status).toBe('OFFERED');
    expect(await walletOf(t, lender)).toBe('20000.00');
    // Declining frees the buyer of it; the lender's money stayed put.
    expect((await decline(t, buyer.key, f.id)).data.declineFacility.status).toBe('DECLINED');
  });

  it('a fill across two listings: all of the cheaper one, the rest from the dearer one, each seller paid its wholesale', async () => {
    expect(cheapListing.wholesaleCostPerCredit).toBe('1.428571');
    expect(cheapListing.totalCredits).toBe('350.000000');
    expect(dearListing.wholesaleCostPerCredit).toBe('1.500000');
    const principal = '10000.00';
    const fee = expectedFee(principal);
    const purchase = D(principal).minus(fee);
    const cheapCredits = D('350');
    const cheapCost = cheapCredits.times('1.428571');
    const dearCredits = creditsFor(purchase.minus(cheapCost).toFixed(), '1.500000');
    const credits = cheapCredits.plus(dearCredits);
    const cheapPayout = usd(cheapCost);
    const dearPayout = usd(dearCredits.times('1.500000'));
    expect([fee, cheapPayout, dearPayout, credits.toFixed(6)]).toEqual(['200.00', '500.00', '9300.00', '6550.000100']);

    const f = await offerOk(t, lender, { borrowerId: buyer.id, principal, apr: '0.12', termMonths: 6 });
    const before = {
      lender: await walletOf(t, lender),
      revenue: await ledgerBalance(t, REVENUE),
      tx: await ledgerTransactionCount(t),
    };
    const accepted = await acceptOk(t, buyer, f.id);
    expect(accepted).toMatchObject({
      status: 'ACTIVE',
      creditsGranted: credits.toFixed(6),
      creditBlock: {
        type: 'FINANCED',
        granted: credits.toFixed(6),
        remaining: credits.toFixed(6),
        unitPrice: purchase.div(credits).decimalPlaces(6, Decimal.ROUND_HALF_UP).toFixed(6),
        expiresAt: expectedSchedule(principal, '0.12', 6, CLOCK_START)[5].dueDate,
      },
    });
    expect(await walletOf(t, lender)).toBe(D(before.lender).minus(principal).toFixed(2));
    expect(await walletOf(t, cheap)).toBe(cheapPayout);
    expect(await walletOf(t, dear)).toBe(dearPayout);
    expect((await ledgerBalance(t, REVENUE)).minus(before.revenue).toFixed(2)).toBe(D(principal).minus(cheapPayout).minus(dearPayout).toFixed(2));
    // One balanced ledger transaction for the whole acceptance.
    expect(await ledgerTransactionCount(t)).toBe(before.tx + 1);
    // The capacity is allocated: the cheap listing sold out, the dear one partly.
    const listings = await t.gql(`{ listings(first: 10) { edges { node { id status allocatedCredits availableCredits } } } }`);
    const byId = Object.fromEntries(listings.data.listings.edges.map((e: any) => [e.node.id, e.node]));
    expect(byId[cheapListing.id]).toMatchObject({ status: 'SOLD_OUT', allocatedCredits: '350.000000', availableCredits: '0.000000' });
    expect(byId[dearListing.id]).toMatchObject({ status: 'OPEN', allocatedCredits: dearCredits.toFixed(6), availableCredits: D('10000').minus(dearCredits).toFixed(6) });
    expect((await creditBalanceOf(t, buyer)).available).toBe(credits.toFixed(6));
    await expectBalanced(t);
  });
});

describe('a financing fee of 1% (CCX_FINANCING_FEE_RATE=0.01)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CCX_FINANCING_FEE_RATE: '0.01' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('the check loan discloses 0.1994 (SPEC §7) with a 1,000.00 fee, and 99,000.00 buys capacity', async () => {
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
    const lender = await register(t, 'LENDER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, lender, '100000.00');
    const f = await offerOk(t, lender, { borrowerId: buyer.id, ...CHECK_LOAN });
    expect(f).toMatchObject({ financingFee: expectedFee('100000.00', '0.01'), disclosedApr: '0.1994', totalInterest: '10015.99' });
    expect(f.financingFee).toBe('1000.00');
    const accepted = await acceptOk(t, buyer, f.id);
    expect(accepted.creditsGranted).toBe(creditsFor('99000.00', '1.50').toFixed(6));
    expect(await walletOf(t, seller)).toBe('99000.00');
    expect(await ledgerBalance(t, REVENUE).then((v) => v.toFixed(2))).toBe('1000.00');
    await expectBalanced(t);
  });
});

describe('acceptance on January 31: due dates clamp to month ends', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('the OFFERED schedule follows the clock; accepted on Jan 31 the installments fall on each month’s last day at most', async () => {
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
    const lender = await register(t, 'LENDER');
    const buyer = await register(t, 'BUYER');
    await deposit(t, lender, '100000.00');
    const f = await offerOk(t, lender, { borrowerId: buyer.id, ...CHECK_LOAN });
    expect(f.schedule[0].dueDate).toBe('2026-02-05T12:00:00.000Z');

    await clockTo(t, '2026-01-31T12:00:00.000Z');
    const prospective = await facilityOf(t, f.id);
    expect(prospective.schedule.map((i: any) => i.dueDate)).toEqual(expectedSchedule('100000.00', '0.18', 12, '2026-01-31T12:00:00.000Z').map((i) => i.dueDate));

    const accepted = await acceptOk(t, buyer, f.id);
    expect(accepted.schedule.map((i: any) => i.dueDate)).toEqual([
      '2026-02-28T12:00:00.000Z',
      '2026-03-31T12:00:00.000Z',
      '2026-04-30T12:00:00.000Z',
      '2026-05-31T12:00:00.000Z',
      '2026-06-30T12:00:00.000Z',
      '2026-07-31T12:00:00.000Z',
      '2026-08-31T12:00:00.000Z',
      '2026-09-30T12:00:00.000Z',
      '2026-10-31T12:00:00.000Z',
      '2026-11-30T12:00:00.000Z',
      '2026-12-31T12:00:00.000Z',
      '2027-01-31T12:00:00.000Z',
    ]);
    // Same amounts whatever the day; the disclosure does not depend on the date either.
    expect(accepted.schedule.map((i: any) => i.payment)).toEqual([...Array(11).fill('9168.00'), '9167.99']);
    expect(accepted).toMatchObject({
      acceptedAt: '2026-01-31T12:00:00.000Z',
      maturityAt: '2027-01-31T12:00:00.000Z',
      disclosedApr: '0.2191',
      creditBlock: { expiresAt: '2027-01-31T12:00:00.000Z' },
    });

    // The first installment is due Feb 28 (not Mar 3): 6 days later it is past the grace.
    await clockTo(t, '2026-03-06T12:00:00.000Z');
    expect(await facilityOf(t, f.id)).toMatchObject({ status: 'DELINQUENT', daysPastDue: 6, pastDueAmount: '9168.00' });
    await expectBalanced(t);
  });
});
