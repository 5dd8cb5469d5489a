import { Decimal } from '@ccx/core';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { facilityLedger, ledgerBalance, walletCode } from './support/db-probes.js';
import { acceptOk, clockTo, offerOk, repay, repayOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit } from './support/drivers/wallets.js';

/**
 * How a repayment is applied (SPEC §7): past-due installments first, then the next installment,
 * interest before principal, never interest ahead; anything beyond is principal, and the later
 * installments are re-amortized with the same payment over fewer months. `payoffAmount` closes the
 * facility today; paying more is refused. On-time payments see exactly the check schedule.
 */

const D = (v: string | number | Decimal) => new Decimal(v);
const CHECK_LOAN = { principal: '100000.00', apr: '0.18', termMonths: 12 } as const;
const PAYOFF_FIELDS = `id status payoffAmount outstandingPrincipal pastDueAmount
  creditBlock { status expiresAt } schedule { number dueDate payment principal interest principalPaid interestPaid status }`;

async function payoffOf(t: TestApp, key: string, id: string): Promise<any> {
  const res = await t.gql(`query($id: ID!) { facility(id: $id) { ${PAYOFF_FIELDS} } }`, { id }, key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.facility;
}

describe('repayments and payoffAmount on the check loan (100,000.00 at 0.18 for 12 months, accepted 2026-01-05)', () => {
  let t: TestApp;
  let lender: Org;
  const loans: Record<'partial' | 'early' | 'payoff' | 'onTime', { buyer: Org; id: string }> = {} as never;

  beforeAll(async () => {
    t = await startTestApp();
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '300000', wholesalePricePerGpuHour: '1.50' });
    lender = await register(t, 'LENDER');
    await deposit(t, lender, '400000.00');
    for (const name of ['partial', 'early', 'payoff', 'onTime'] as const) {
      const buyer = await register(t, 'BUYER');
      await deposit(t, buyer, '200000.00');
      const f = await offerOk(t, lender, { borrowerId: buyer.id, ...CHECK_LOAN });
      await acceptOk(t, buyer, f.id);
      loans[name] = { buyer, id: f.id };
    }
    await clockTo(t, '2026-01-20T12:00:00.000Z');
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('before any payment the payoff is the first month interest + the principal, never later interest', async () => {
    const f = await payoffOf(t, OPERATOR_KEY, loans.partial.id);
    expect(f).toMatchObject({ payoffAmount: '101500.00', outstandingPrincipal: '100000.00', pastDueAmount: '0.00' });
  });

  it('a partial early payment pays the next installment interest first', async () => {
    const { buyer, id } = loans.partial;
    const r = await repayOk(t, buyer, id, '1000.00');
    expect(r).toMatchObject({ interestPaid: '1000.00', principalPaid: '0.00' });
    expect(r.facility.schedule[0]).toMatchObject({ interestPaid: '1000.00', principalPaid: '0.00', status: 'PARTIALLY_PAID' });
    expect((await payoffOf(t, buyer.key, id)).payoffAmount).toBe('100500.00');
  });

  it('an early payment beyond the next installment goes to principal and re-amortizes: same payment, fewer months, no unearned interest', async () => {
    const { buyer, id } = loans.early;
    const lenderBefore = await ledgerBalance(t, walletCode(lender));
    const r = await repayOk(t, buyer, id, '30000.00');
    // #1's interest (1,500.00) and principal (7,668.00), then 20,832.00 ahead: no interest of #2 or later.
    expect(r).toMatchObject({ interestPaid: '1500.00', principalPaid: '28500.00' });
    expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe('30000.00');
    const f = await payoffOf(t, buyer.key, id);
    expect(f.schedule.map((i: any) => [i.number, i.payment, i.principal, i.interest, i.status])).toEqual([
      [1, '30000.00', '28500.00', '1500.00', 'PAID'],
      [2, '9168.00', '8095.50', '1072.50', 'DUE'],
      [3, '9168.00', '8216.93', '951.07', 'DUE'],
      [4, '9168.00', '8340.19', '827.81', 'DUE'],
      [5, '9168.00', '8465.29', '702.71', 'DUE'],
      [6, '9168.00', '8592.27', '575.73', 'DUE'],
      [7, '9168.00', '8721.15', '446.85', 'DUE'],
      [8, '9168.00', '8851.97', '316.03', 'DUE'],
      [9, '9168.00', '8984.75', '183.25', 'DUE'],
      [10, '3280.43', '3231.95', '48.48', 'DUE'],
      [11, '0.00', '0.00', '0.00', 'PAID'],
      [12, '0.00', '0.00', '0.00', 'PAID'],
    ]);
    expect(f).toMatchObject({ status: 'ACTIVE', outstandingPrincipal: '71500.00', payoffAmount: '71500.00', pastDueAmount: '0.00' });
    expect(await facilityLedger(t, id)).toEqual({ receivable: '71500.00', debt: '-71500.00' });
  });

  it('paying more than payoffAmount is refused and changes nothing; paying it closes the facility today', async () => {
    const { buyer, id } = loans.payoff;
    const lenderBefore = await ledgerBalance(t, walletCode(lender));
    expect((await payoffOf(t, buyer.key, id)).payoffAmount).toBe('101500.00');
    const refused = await repay(t, buyer.key, id, '101500.01');
    expect(refused.code).toBe('BAD_USER_INPUT');
    expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe('0.00');
    const r = await repayOk(t, buyer, id, '101500.00');
    expect(r).toMatchObject({ interestPaid: '1500.00', principalPaid: '100000.00' });
    expect(r.facility).toMatchObject({ status: 'REPAID', outstandingPrincipal: '0.00', creditBlock: { status: 'ACTIVE', expiresAt: null } });
    expect((await payoffOf(t, buyer.key, id)).payoffAmount).toBe('0.00');
    expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe('101500.00');
    expect(await facilityLedger(t, id)).toEqual({ receivable: '0.00', debt: '0.00' });
  });

  it('on-time payments see exactly the check schedule: 11 × 9,168.00 then 9,167.99, 10,015.99 of interest', async () => {
    const { buyer, id } = loans.onTime;
    const lenderBefore = await ledgerBalance(t, walletCode(lender));
    const schedule = (await payoffOf(t, buyer.key, id)).schedule;
    for (const i of schedule) {
      await clockTo(t, new Date(i.dueDate).toISOString());
      await repayOk(t, buyer, id, i.payment);
    }
    const f = await payoffOf(t, buyer.key, id);
    expect(f.status).toBe('REPAID');
    expect(f.schedule.map((i: any) => i.payment)).toEqual([...Array(11).fill('9168.00'), '9167.99']);
    expect(f.schedule.map((i: any) => [i.principalPaid, i.interestPaid])).toEqual(schedule.map((i: any) => [i.principal, i.interest]));
    expect((await ledgerBalance(t, walletCode(lender))).minus(lenderBefore).toFixed(2)).toBe(D('110015.99').toFixed(2));
  });
});
