import { Decimal } from '@ccx/core';
import { amortizationSchedule, levelPayment, totalInterest, totalPayments, type Installment } from './amortization.js';

const d = (value: string) => new Decimal(value);
const CHECK_START = new Date('2026-01-31T10:00:00.000Z');

/** [number, payment, principal, interest, openingBalance, closingBalance] in cents text. */
type Row = [number, string, string, string, string, string];
const row = (i: Installment): Row => [
  i.number,
  i.payment.toFixed(2),
  i.principal.toFixed(2),
  i.interest.toFixed(2),
  i.openingBalance.toFixed(2),
  i.closingBalance.toFixed(2),
];

interface ScheduleCase {
  name: string;
  principal: string;
  apr: string;
  termMonths: number;
  startDate: Date;
  levelPayment: string;
  totalInterest: string;
  /** Installments to compare, by number (others are covered by the invariants below). */
  rows: Row[];
}

const cases: ScheduleCase[] = [
  {
    name: 'SPEC §7 check loan: 100,000.00 at 0.18 for 12 months',
    principal: '100000.00',
    apr: '0.18',
    termMonths: 12,
    startDate: CHECK_START,
    levelPayment: '9168.00',
    totalInterest: '10015.99',
    rows: [
      [1, '9168.00', '7668.00', '1500.00', '100000.00', '92332.00'],
      [2, '9168.00', '7783.02', '1384.98', '92332.00', '84548.98'],
      [3, '9168.00', '7899.77', '1268.23', '84548.98', '76649.21'],
      [11, '9168.00', '8899.03', '268.97', '17931.53', '9032.50'],
      [12, '9167.99', '9032.50', '135.49', '9032.50', '0.00'],
    ],
  },
  {
    name: 'one month: a single payment of P + P·r',
    principal: '1000.00',
    apr: '0.18',
    termMonths: 1,
    startDate: CHECK_START,
    levelPayment: '1015.00',
    totalInterest: '15.00',
    rows: [[1, '1015.00', '1000.00', '15.00', '1000.00', '0.00']],
  },
  {
    name: 'one month, interest rounded HALF_UP (1234.56 × 0.1999 ÷ 12 = 20.5657…)',
    principal: '1234.56',
    apr: '0.1999',
    termMonths: 1,
    startDate: CHECK_START,
    levelPayment: '1255.13',
    totalInterest: '20.57',
    rows: [[1, '1255.13', '1234.56', '20.57', '1234.56', '0.00']],
  },
  {
    name: '36 months: 50,000.00 at 0.12',
    principal: '50000.00',
    apr: '0.12',
    termMonths: 36,
    startDate: new Date('2026-03-15T00:00:00.000Z'),
    levelPayment: '1660.72',
    totalInterest: '9785.70',
    rows: [
      [1, '1660.72', '1160.72', '500.00', '50000.00', '48839.28'],
      [2, '1660.72', '1172.33', '488.39', '48839.28', '47666.95'],
      [35, '1660.72', '1628.00', '32.72', '3272.06', '1644.06'],
      [36, '1660.50', '1644.06', '16.44', '1644.06', '0.00'],
    ],
  },
  {
    name: 'apr 0: 100.00 over 3 splits exactly, the last absorbs the cent',
    principal: '100.00',
    apr: '0',
    termMonths: 3,
    startDate: CHECK_START,
    levelPayment: '33.33',
    totalInterest: '0.00',
    rows: [
      [1, '33.33', '33.33', '0.00', '100.00', '66.67'],
      [2, '33.33', '33.33', '0.00', '66.67', '33.34'],
      [3, '33.34', '33.34', '0.00', '33.34', '0.00'],
    ],
  },
  {
    name: 'apr 0: 100.00 over 6 rounds the payment up (16.666… → 16.67), the last pays less',
    principal: '100.00',
    apr: '0',
    termMonths: 6,
    startDate: CHECK_START,
    levelPayment: '16.67',
    totalInterest: '0.00',
    rows: [
      [1, '16.67', '16.67', '0.00', '100.00', '83.33'],
      [5, '16.67', '16.67', '0.00', '33.32', '16.65'],
      [6, '16.65', '16.65', '0.00', '16.65', '0.00'],
    ],
  },
  {
    name: 'tiny principal 1.00 at 0.18 for 12: cent payments, 0.015 rounds up to 0.02, the last absorbs',
    principal: '1.00',
    apr: '0.18',
    termMonths: 12,
    startDate: CHECK_START,
    levelPayment: '0.09',
    totalInterest: '0.10',
    rows: [
      [1, '0.09', '0.07', '0.02', '1.00', '0.93'],
      [2, '0.09', '0.08', '0.01', '0.93', '0.85'],
      [9, '0.09', '0.08', '0.01', '0.37', '0.29'],
      [10, '0.09', '0.09', '0.00', '0.29', '0.20'],
      [11, '0.09', '0.09', '0.00', '0.20', '0.11'],
      [12, '0.11', '0.11', '0.00', '0.11', '0.00'],
    ],
  },
  {
    name: 'smallest two-month loan at 0: 0.02 is two payments of one cent',
    principal: '0.02',
    apr: '0',
    termMonths: 2,
    startDate: CHECK_START,
    levelPayment: '0.01',
    totalInterest: '0.00',
    rows: [
      [1, '0.01', '0.01', '0.00', '0.02', '0.01'],
      [2, '0.01', '0.01', '0.00', '0.01', '0.00'],
    ],
  },
];

describe('amortizationSchedule (SPEC §7)', () => {
  describe.each(cases)('$name', (c) => {
    const schedule = amortizationSchedule({
      principal: d(c.principal),
      apr: d(c.apr),
      termMonths: c.termMonths,
      startDate: c.startDate,
    });

    it('has one installment per month', () => {
      expect(schedule.map((i) => i.number)).toEqual(Array.from({ length: c.termMonths }, (_, k) => k + 1));
    });

    it(`pays a level ${c.levelPayment} before the last installment`, () => {
      expect(levelPayment(d(c.principal), d(c.apr), c.termMonths).toFixed(2)).toBe(c.levelPayment);
      for (const i of schedule.slice(0, -1)) expect(i.payment.toFixed(2)).toBe(c.levelPayment);
    });

    it('matches the expected installments', () => {
      const byNumber = new Map(schedule.map((i) => [i.number, row(i)]));
      for (const expected of c.rows) expect(byNumber.get(expected[0])).toEqual(expected);
    });

    it(`totals ${c.totalInterest} of interest and repays exactly the principal`, () => {
      expect(totalInterest(schedule).toFixed(2)).toBe(c.totalInterest);
      expect(totalPayments(schedule).toFixed(2)).toBe(d(c.principal).plus(c.totalInterest).toFixed(2));
      expect(schedule.reduce((sum, i) => sum.plus(i.principal), new Decimal(0)).toFixed(2)).toBe(c.principal);
    });
  });

  it('SPEC check: 11 × 9,168.00 then 9,167.99; total interest 10,015.99', () => {
    const schedule = amortizationSchedule({ principal: d('100000.00'), apr: d('0.18'), termMonths: 12, startDate: CHECK_START });
    expect(schedule.map((i) => i.payment.toFixed(2))).toEqual([...Array(11).fill('9168.00'), '9167.99']);
    expect(totalInterest(schedule).toFixed(2)).toBe('10015.99');
    expect(totalPayments(schedule).toFixed(2)).toBe('110015.99');
  });

  it('is due on the start day of month, clamped to each month end (start Jan 31)', () => {
    const schedule = amortizationSchedule({ principal: d('100000.00'), apr: d('0.18'), termMonths: 14, startDate: CHECK_START });
    expect(schedule.map((i) => i.dueDate.toISOString())).toEqual([
      '2026-02-28T10:00:00.000Z',
      '2026-03-31T10:00:00.000Z',
      '2026-04-30T10:00:00.000Z',
      '2026-05-31T10:00:00.000Z',
      '2026-06-30T10:00:00.000Z',
      '2026-07-31T10:00:00.000Z',
      '2026-08-31T10:00:00.000Z',
      '2026-09-30T10:00:00.000Z',
      '2026-10-31T10:00:00.000Z',
      '2026-11-30T10:00:00.000Z',
      '2026-12-31T10:00:00.000Z',
      '2027-01-31T10:00:00.000Z',
      '2027-02-28T10:00:00.000Z',
      '2027-03-31T10:00:00.000Z',
    ]);
  });

  it('keeps every amount in exact cents and chains the balances', () => {
    const schedule = amortizationSchedule({ principal: d('98765.43'), apr: d('0.2137'), termMonths: 48, startDate: CHECK_START });
    let opening = d('98765.43');
    for (const i of schedule) {
      for (const amount of [i.payment, i.principal, i.interest, i.openingBalance, i.closingBalance]) {
        expect(amount.decimalPlaces()).toBeLessThanOrEqual(2);
      }
      expect(i.openingBalance.eq(opening)).toBe(true);
      expect(i.payment.eq(i.principal.plus(i.interest))).toBe(true);
      expect(i.closingBalance.eq(i.openingBalance.minus(i.principal))).toBe(true);
      opening = i.closingBalance;
    }
    expect(opening.isZero()).toBe(true);
  });

  it('takes 360 months', () => {
    const schedule = amortizationSchedule({ principal: d('250000.00'), apr: d('0.0675'), termMonths: 360, startDate: CHECK_START });
    expect(schedule).toHaveLength(360);
    expect(schedule[0].payment.toFixed(2)).toBe('1621.50');
    expect(schedule[359].closingBalance.isZero()).toBe(true);
    expect(schedule[359].dueDate.toISOString()).toBe('2056-01-31T10:00:00.000Z');
  });

  describe('rounding that breaks the level-payment rule', () => {
    // Cents rounding of A compounds over the term. When the principal is tiny for the term, the
    // installments before the last would repay more than is owed (the last one would be a refund)
    // or the payment rounds to zero: such loans cannot be scheduled and are rejected.
    it.each([
      ['1.00 at 0 over 60: A = 0.02 would repay 1.18 in 59 installments', '1.00', '0', 60],
      ['0.01 at 0 over 2: A = 0.01 repays it all in the first installment, the last would be 0.00', '0.01', '0', 2],
      ['0.01 at 0.18 over 12: A rounds to 0.00', '0.01', '0.18', 12],
      ['10,000.00 at 0.36 over 360: A = 300.01 is interest plus 0.01, which compounds past the principal', '10000.00', '0.36', 360],
    ])('%s', (_name, principal, apr, termMonths) => {
      expect(() => amortizationSchedule({ principal: d(principal), apr: d(apr), termMonths, startDate: CHECK_START })).toThrow(
        /too small to amortize/,
      );
    });

    it('12,345.67 at 0.4999 over 360: A equals the first interest, so the whole principal is the last payment', () => {
      // Not an error but worth knowing: at high rates over long terms the principal part of A is
      // below a cent, so cents rounding of A decides the shape (here a balloon; see above for the
      // opposite case).
      const schedule = amortizationSchedule({ principal: d('12345.67'), apr: d('0.4999'), termMonths: 360, startDate: CHECK_START });
      expect(schedule[0].payment.toFixed(2)).toBe('514.30');
      expect(schedule[0].interest.toFixed(2)).toBe('514.30');
      expect(schedule.slice(0, -1).every((i) => i.principal.isZero())).toBe(true);
      expect(row(schedule[359])).toEqual([360, '12859.97', '12345.67', '514.30', '12345.67', '0.00']);
    });
  });

  describe('validation', () => {
    const valid = { principal: d('1000.00'), apr: d('0.18'), termMonths: 12, startDate: CHECK_START };
    it.each([
      ['principal zero', { principal: d('0') }, /principal must be greater than zero/],
      ['principal negative', { principal: d('-5.00') }, /principal must be greater than zero/],
      ['principal with 3 decimals', { principal: d('10.001') }, /principal must be whole cents/],
      ['principal NaN', { principal: d('NaN') }, /principal must be a finite decimal/],
      ['principal Infinity', { principal: d('Infinity') }, /principal must be a finite decimal/],
      ['apr negative', { apr: d('-0.01') }, /apr must be a fraction from 0 to 10/],
      ['apr above 10', { apr: d('10.0001') }, /apr must be a fraction from 0 to 10/],
      ['apr NaN', { apr: d('NaN') }, /apr must be a finite decimal/],
      ['apr with 11 decimals', { apr: d('0.18000000001') }, /apr must have at most 10 decimals/],
      ['term 0', { termMonths: 0 }, /termMonths must be a whole number from 1 to 360/],
      ['term 361', { termMonths: 361 }, /termMonths must be a whole number from 1 to 360/],
      ['term 1.5', { termMonths: 1.5 }, /termMonths must be a whole number from 1 to 360/],
      ['term NaN', { termMonths: Number.NaN }, /termMonths must be a whole number from 1 to 360/],
      ['invalid start date', { startDate: new Date('not a date') }, /startDate must be a valid Date/],
    ])('rejects %s', (_name, override, message) => {
      expect(() => amortizationSchedule({ ...valid, ...override })).toThrow(RangeError);
      expect(() => amortizationSchedule({ ...valid, ...override })).toThrow(message);
    });

    it.each([
      ['apr 10 (the hard cap)', { apr: d('10') }],
      ['360 months', { termMonths: 360 }],
      ['one cent over one month', { principal: d('0.01'), termMonths: 1 }],
      ['apr with 10 decimals', { apr: d('0.1800000001') }],
    ])('accepts %s', (_name, override) => {
      expect(() => amortizationSchedule({ ...valid, ...override })).not.toThrow();
    });
  });
});
