import { Decimal, roundUsd } from '@ccx/core';
import { amortizationSchedule } from './amortization.js';
import { appendixJMonthlyUnitPeriods, regulationZApr, type ScheduledPayment } from './regulation-z.js';

const d = (value: string) => new Decimal(value);
const CHECK_START = new Date('2026-01-31T10:00:00.000Z');
const checkLoanPayments = (): ScheduledPayment[] =>
  amortizationSchedule({ principal: d('100000.00'), apr: d('0.18'), termMonths: 12, startDate: CHECK_START }).map((i) => ({
    amount: i.payment,
    dueDate: i.dueDate,
  }));

/**
 * Present value at monthly rate `i` of payments due on the k-th monthly anniversaries, written
 * independently of the implementation: Σ P_k ÷ (1+i)^k with exact powers.
 */
function presentValueOnAnniversaries(amounts: Decimal[], i: Decimal): Decimal {
  return amounts.reduce((sum, amount, k) => sum.plus(amount.div(i.plus(1).pow(k + 1))), new Decimal(0));
}

describe('appendixJMonthlyUnitPeriods', () => {
  it.each([
    ['the start itself', '2026-01-15T09:00:00Z', '2026-01-15T09:00:00Z', 0, 0],
    ['one month', '2026-01-15T09:00:00Z', '2026-02-15T09:00:00Z', 1, 0],
    ['Jan 31 → Feb 28: a clamped anniversary is a whole month', '2026-01-31T10:00:00Z', '2026-02-28T10:00:00Z', 1, 0],
    ['Jan 31 → Mar 31', '2026-01-31T10:00:00Z', '2026-03-31T10:00:00Z', 2, 0],
    ['Jan 30 → Feb 28 (the schedule’s own anniversary)', '2026-01-30T10:00:00Z', '2026-02-28T10:00:00Z', 1, 0],
    ['Jan 31 → Jan 31 a year later', '2026-01-31T10:00:00Z', '2027-01-31T10:00:00Z', 12, 0],
    ['Feb 28 → Mar 31: back from Mar 31 lands on Feb 28', '2026-02-28T00:00:00Z', '2026-03-31T00:00:00Z', 1, 0],
    ['Jan 15 → Mar 20: 2 months back to Jan 20, 5 odd days', '2026-01-15T00:00:00Z', '2026-03-20T00:00:00Z', 2, 5],
    ['Jan 25 → Mar 10: back to Feb 10, 16 odd days from Jan 25', '2026-01-25T00:00:00Z', '2026-03-10T00:00:00Z', 1, 16],
    ['Jan 20 → Mar 1 2012: back to Feb 1, 12 odd days (actual days, ÷ 30)', '2012-01-20T00:00:00Z', '2012-03-01T00:00:00Z', 1, 12],
    ['Jan 30 → Feb 27: no whole month, 28 odd days', '2026-01-30T00:00:00Z', '2026-02-27T00:00:00Z', 0, 28],
    ['Jan 31 → Mar 1: one month back is Feb 1, 1 odd day', '2026-01-31T00:00:00Z', '2026-03-01T00:00:00Z', 1, 1],
    ['a day short of an anniversary in time of day', '2026-01-05T12:00:00Z', '2026-02-05T11:00:00Z', 0, 30],
  ])('%s', (_name, start, date, periods, oddDays) => {
    const result = appendixJMonthlyUnitPeriods(new Date(start), new Date(date));
    expect({ periods: result.periods, oddDays: result.oddDays }).toEqual({ periods, oddDays });
    expect(result.fraction.eq(new Decimal(oddDays).div(30))).toBe(true);
  });

  it('rejects a date before the start', () => {
    expect(() => appendixJMonthlyUnitPeriods(new Date('2026-02-01T00:00:00Z'), new Date('2026-01-31T00:00:00Z'))).toThrow(RangeError);
  });
});

describe('regulationZApr (Appendix J, actuarial)', () => {
  const amounts = checkLoanPayments().map((p) => p.amount);

  it.each([
    ['no fee: the note rate', '100000.00', '0.1800'],
    ['SPEC §7: 1% prepaid finance charge', '99000.00', '0.1994'],
    ["2% prepaid finance charge (CCX's financing fee)", '98000.00', '0.2191'],
  ])('check loan, %s → %s', (_name, amountFinanced, expected) => {
    const apr = regulationZApr({ amountFinanced: d(amountFinanced), payments: checkLoanPayments(), startDate: CHECK_START });
    expect(apr.toFixed(4)).toBe(expected);
  });

  it.each([
    ['100000.00', '0.1800', '100000.00'],
    ['99000.00', '0.1994', '99000.28'],
    ['98000.00', '0.2191', '97999.94'],
  ])('cross-check: amount financed %s is the present value of the payments at %s ÷ 12', (amountFinanced, apr, presentValue) => {
    const monthly = (annual: Decimal) => annual.div(12);
    const financed = d(amountFinanced);
    // At the disclosed (4-decimal) APR the payments are worth the amount financed to within cents:
    // one basis point moves this loan's present value by about 5.04, so the 4-decimal rounding
    // alone may leave up to about 2.52.
    expect(roundUsd(presentValueOnAnniversaries(amounts, monthly(d(apr)))).toFixed(2)).toBe(presentValue);
    // The exact rate lies inside the disclosed value's rounding interval, so APR ± 0.0001 (and
    // even ± 0.00005) brackets it: present value falls as the rate rises.
    for (const step of ['0.0001', '0.00005']) {
      expect(presentValueOnAnniversaries(amounts, monthly(d(apr).minus(step))).gt(financed)).toBe(true);
      expect(presentValueOnAnniversaries(amounts, monthly(d(apr).plus(step))).lt(financed)).toBe(true);
    }
  });

  it.each([
    // 1,107.52 × 0.4380 ÷ 12 = 40.4245 is charged as 40.42: the cent-rounded payments 584.26 and
    // 584.25 are worth 1,107.52 at 0.437937…, which is what Regulation Z requires to disclose.
    ['1107.52', '0.4380', 2, '0.4379'],
    // Every interest part rounds to 0.00: the borrower pays back 0.05 and no interest at all.
    ['0.05', '0.4623', 3, '0.0000'],
    ['5000.00', '0.4380', 2, '0.4380'],
  ])('without a fee, a small principal can disclose other than the note rate: %s at %s over %d → %s', (principal, apr, termMonths, expected) => {
    const schedule = amortizationSchedule({ principal: d(principal), apr: d(apr), termMonths, startDate: CHECK_START });
    const payments = schedule.map((i) => ({ amount: i.payment, dueDate: i.dueDate }));
    expect(regulationZApr({ amountFinanced: d(principal), payments, startDate: CHECK_START }).toFixed(4)).toBe(expected);
  });

  it('is exactly 0 when the payments only return the amount financed', () => {
    const payments = [1, 2, 3].map((k) => ({ amount: d(k === 3 ? '33.34' : '33.33'), dueDate: new Date(Date.UTC(2026, k, 1)) }));
    expect(regulationZApr({ amountFinanced: d('100.00'), payments, startDate: new Date(Date.UTC(2026, 0, 1)) }).toFixed(4)).toBe('0.0000');
  });

  it('uses the fractional unit-period of an odd first period: 1,000.00 repaid by 1,010.00 one month and 15 days later', () => {
    // 1000 = 1010 ÷ ((1 + 0.5·i)(1 + i))  ⇔  0.5i² + 1.5i − 0.01 = 0  ⇔  i = √2.27 − 1.5 = 0.006651917…
    // APR = 12i = 0.0798230… → 0.0798 (a whole-month count of 1 would give 0.1200; of 2, 0.0598).
    const apr = regulationZApr({
      amountFinanced: d('1000.00'),
      payments: [{ amount: d('1010.00'), dueDate: new Date('2026-04-16T00:00:00Z') }],
      startDate: new Date('2026-03-01T00:00:00Z'),
    });
    expect(apr.toFixed(4)).toBe('0.0798');
  });

  it('discounts an odd-period schedule as Σ P ÷ ((1 + f·i)(1 + i)^t)', () => {
    // Advance Jan 20, payments on the 1st from Mar 1: payment k is k whole months back to Feb 1
    // plus the same 12 odd days (Jan 20 → Feb 1), so f = 12/30 for every one.
    const startDate = new Date('2026-01-20T00:00:00Z');
    const payments = Array.from({ length: 6 }, (_, k) => ({ amount: d('170.00'), dueDate: new Date(Date.UTC(2026, 2 + k, 1)) }));
    const apr = regulationZApr({ amountFinanced: d('1000.00'), payments, startDate });
    const pv = (annual: string) => {
      const i = d(annual).div(12);
      return payments.reduce((sum, p, k) => sum.plus(p.amount.div(i.times(12).div(30).plus(1).times(i.plus(1).pow(k + 1)))), d('0'));
    };
    // 0.0611932 by an independent high-precision solve of the same equation.
    expect(apr.toFixed(4)).toBe('0.0612');
    expect(pv(apr.minus('0.00005').toFixed()).gt('1000.00')).toBe(true);
    expect(pv(apr.plus('0.00005').toFixed()).lt('1000.00')).toBe(true);
  });

  it('takes payments in any order', () => {
    const payments = checkLoanPayments();
    expect(regulationZApr({ amountFinanced: d('99000.00'), payments: [...payments].reverse(), startDate: CHECK_START }).toFixed(4)).toBe('0.1994');
  });

  it('solves a 360-month loan', () => {
    const schedule = amortizationSchedule({ principal: d('250000.00'), apr: d('0.0675'), termMonths: 360, startDate: CHECK_START });
    const payments = schedule.map((i) => ({ amount: i.payment, dueDate: i.dueDate }));
    expect(regulationZApr({ amountFinanced: d('250000.00'), payments, startDate: CHECK_START }).toFixed(4)).toBe('0.0675');
    expect(regulationZApr({ amountFinanced: d('245000.00'), payments, startDate: CHECK_START }).toFixed(4)).toBe('0.0695');
  });

  describe('validation', () => {
    const valid = { amountFinanced: d('99000.00'), payments: checkLoanPayments(), startDate: CHECK_START };
    it.each([
      ['amount financed zero', { amountFinanced: d('0') }, /amountFinanced must be greater than zero/],
      ['amount financed with 3 decimals', { amountFinanced: d('1.001') }, /amountFinanced must be whole cents/],
      ['no payments', { payments: [] }, /at least one payment/],
      ['a negative payment', { payments: [{ amount: d('-1.00'), dueDate: new Date('2026-03-01T00:00:00Z') }] }, /must not be negative/],
      ['a payment due at the start', { payments: [{ amount: d('1.00'), dueDate: CHECK_START }] }, /must be due after the start date/],
      ['payments below the amount financed', { amountFinanced: d('200000.00') }, /negative finance charge/],
      ['an invalid start date', { startDate: new Date(Number.NaN) }, /startDate must be a valid Date/],
    ])('rejects %s', (_name, override, message) => {
      expect(() => regulationZApr({ ...valid, ...override })).toThrow(RangeError);
      expect(() => regulationZApr({ ...valid, ...override })).toThrow(message);
    });
  });
});
