import { Decimal } from '@ccx/core';
import { amortizationSchedule, levelPayment } from './amortization.js';
import { applyPayment, payoffAmount, type ScheduleState } from './payments.js';

const d = (value: string) => new Decimal(value);
const START = new Date('2026-01-05T12:00:00.000Z');
const CHECK = { principal: d('100000.00'), apr: d('0.18'), termMonths: 12, startDate: START };
const A = levelPayment(CHECK.principal, CHECK.apr, CHECK.termMonths); // 9168.00

function checkLoan(): ScheduleState[] {
  return amortizationSchedule(CHECK).map((i) => ({ ...i, principalPaid: d('0'), interestPaid: d('0') }));
}

/** Pays `payments` in order against the check loan; returns the final state. */
function pay(payments: [string, string][]): { state: ScheduleState[]; lines: [number, string, string][][] } {
  let state = checkLoan();
  const lines: [number, string, string][][] = [];
  for (const [at, amount] of payments) {
    const result = applyPayment({ installments: state, amount: d(amount), now: new Date(at), apr: CHECK.apr, levelPayment: A });
    state = result.installments;
    lines.push(result.lines.map((l) => [l.number, l.interest.toFixed(2), l.principal.toFixed(2)]));
  }
  return { state, lines };
}

const sum = (state: ScheduleState[], f: (i: ScheduleState) => Decimal) => state.reduce((s, i) => s.plus(f(i)), d('0')).toFixed(2);
const owed = (state: ScheduleState[]) => sum(state, (i) => i.principal.minus(i.principalPaid).plus(i.interest.minus(i.interestPaid)));
/** [number, payment, principal, interest] of each installment. */
const rows = (state: ScheduleState[]) => state.map((i) => [i.number, i.payment.toFixed(2), i.principal.toFixed(2), i.interest.toFixed(2)]);

describe('payoffAmount (SPEC §7): unpaid interest of past-due installments and of the next one + all unpaid principal', () => {
  it.each<[string, [string, string][], string, string]>([
    ['at acceptance: the first month interest + the principal', [], '2026-01-05T12:00:00.000Z', '101500.00'],
    ['mid first period: the same, never later interest', [], '2026-01-20T00:00:00.000Z', '101500.00'],
    ['on the first due date, unpaid: installment 1 is past due, installment 2 is next', [], '2026-02-05T12:00:00.000Z', '102884.98'],
    ['after paying installment 1 on time: installment 2 interest + remaining principal', [['2026-02-05T12:00:00.000Z', '9168.00']], '2026-02-05T12:00:00.000Z', '93716.98'],
    ['after maturity, nothing paid: every interest is earned', [], '2027-02-01T00:00:00.000Z', '110015.99'],
  ])('%s', (_name, payments, at, expected) => {
    expect(payoffAmount(pay(payments).state, new Date(at)).toFixed(2)).toBe(expected);
  });
});

describe('applyPayment (SPEC §7)', () => {
  it('on-time payments see exactly the check schedule: 11 × 9,168.00, then 9,167.99; 10,015.99 interest', () => {
    const schedule = checkLoan();
    const payments = schedule.map((i): [string, string] => [i.dueDate.toISOString(), i.payment.toFixed(2)]);
    const { state, lines } = pay(payments);
    expect(rows(state)).toEqual(rows(checkLoan()));
    expect(lines.map((l) => l.length)).toEqual(Array(12).fill(1));
    expect(sum(state, (i) => i.interestPaid)).toBe('10015.99');
    expect(owed(state)).toBe('0.00');
  });

  it.each<[string, [string, string][], [number, string, string][][], string]>([
    // [name, payments, lines of each payment, what is still owed on the schedule]
    ['the next installment paid early is applied to it whole, nothing ahead', [['2026-01-20T00:00:00.000Z', '9168.00']], [[[1, '1500.00', '7668.00']]], '100847.99'],
    ['a partial early payment: interest first', [['2026-01-20T00:00:00.000Z', '1000.00']], [[[1, '1000.00', '0.00']]], '109015.99'],
    ['a partial payment beyond the interest: then principal', [['2026-01-20T00:00:00.000Z', '2000.00']], [[[1, '1500.00', '500.00']]], '108015.99'],
    [
      'past due first, oldest first, then the next installment',
      [['2026-03-10T00:00:00.000Z', '20000.00']],
      [[[1, '1500.00', '7668.00'], [2, '1384.98', '7783.02'], [3, '1268.23', '395.77']]],
      '90015.99',
    ],
    ['paying the next installment twice in its period: the second goes to principal, no interest ahead', [['2026-01-20T00:00:00.000Z', '9168.00'], ['2026-01-21T00:00:00.000Z', '9168.00']], [[[1, '1500.00', '7668.00']], [[1, '0.00', '9168.00']]], '90072.66'],
  ])('%s', (_name, payments, expectedLines, stillOwed) => {
    const { state, lines } = pay(payments);
    expect(lines).toEqual(expectedLines);
    expect(owed(state)).toBe(stillOwed);
    expect(sum(state, (i) => i.principal)).toBe('100000.00');
  });

  it('a prepayment goes to principal and re-amortizes the rest with the same payment over fewer months', () => {
    const { state, lines } = pay([['2026-01-20T00:00:00.000Z', '30000.00']]);
    // Installment 1's interest and principal, then 20,832.00 of principal ahead of schedule.
    expect(lines).toEqual([[[1, '1500.00', '28500.00']]]);
    expect(rows(state)).toEqual([
      [1, '30000.00', '28500.00', '1500.00'],
      [2, '9168.00', '8095.50', '1072.50'], // 71,500.00 × 0.015
      [3, '9168.00', '8216.93', '951.07'],
      [4, '9168.00', '8340.19', '827.81'],
      [5, '9168.00', '8465.29', '702.71'],
      [6, '9168.00', '8592.27', '575.73'],
      [7, '9168.00', '8721.15', '446.85'],
      [8, '9168.00', '8851.97', '316.03'],
      [9, '9168.00', '8984.75', '183.25'],
      [10, '3280.43', '3231.95', '48.48'], // the installment that reaches zero takes the rest
      [11, '0.00', '0.00', '0.00'],
      [12, '0.00', '0.00', '0.00'],
    ]);
    expect(sum(state, (i) => i.principal)).toBe('100000.00');
    // Then paid as re-amortized, on time, it closes with less interest than the check loan.
    let s = state;
    for (const i of state.slice(1, 10)) {
      s = applyPayment({ installments: s, amount: i.payment, now: i.dueDate, apr: CHECK.apr, levelPayment: A }).installments;
    }
    expect(owed(s)).toBe('0.00');
    expect(sum(s, (i) => i.interestPaid)).toBe('6624.43');
  });

  it('the payoff amount closes the facility today; a cent more is refused', () => {
    const at = new Date('2026-01-20T00:00:00.000Z');
    expect(() => applyPayment({ installments: checkLoan(), amount: d('101500.01'), now: at, apr: CHECK.apr, levelPayment: A })).toThrow(RangeError);
    const { installments, lines, prepaidPrincipal } = applyPayment({ installments: checkLoan(), amount: d('101500.00'), now: at, apr: CHECK.apr, levelPayment: A });
    expect(lines.map((l) => [l.number, l.interest.toFixed(2), l.principal.toFixed(2)])).toEqual([[1, '1500.00', '100000.00']]);
    expect(prepaidPrincipal.toFixed(2)).toBe('92332.00');
    expect(owed(installments)).toBe('0.00');
    expect(payoffAmount(installments, at).toFixed(2)).toBe('0.00');
  });

  it.each([['0'], ['-1.00'], ['1.001']])('refuses amount %s', (amount) => {
    expect(() => applyPayment({ installments: checkLoan(), amount: d(amount), now: START, apr: CHECK.apr, levelPayment: A })).toThrow(RangeError);
  });
});
