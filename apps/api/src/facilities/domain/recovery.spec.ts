import { Decimal } from '@ccx/core';
import { applyRecovery, type RecoveryInput } from './recovery.js';
import type { InstallmentState } from './facility-rules.js';

const D = (v: string) => new Decimal(v);
const day = (d: string) => new Date(`${d}T00:00:00Z`);
/** [number, due date, principal, interest, principal paid, interest paid] */
const schedule = (rows: [number, string, string, string, string, string][]): InstallmentState[] =>
  rows.map(([number, due, principal, interest, principalPaid, interestPaid]) => ({
    number,
    dueDate: day(due),
    payment: D(principal).plus(D(interest)),
    principal: D(principal),
    interest: D(interest),
    principalPaid: D(principalPaid),
    interestPaid: D(interestPaid),
  }));
/** 300 USD over three months; 294 (after a 6 USD fee) bought 294 credits at 1.00 wholesale. */
const THREE = schedule([
  [1, '2026-02-01', '98.00', '4.50', '0', '0'],
  [2, '2026-03-01', '99.47', '3.03', '0', '0'],
  [3, '2026-04-01', '102.53', '1.53', '0', '0'],
]);
const base = (more: Partial<RecoveryInput>): RecoveryInput => ({
  principal: D('300'),
  installments: THREE,
  now: day('2026-03-15'),
  credits: D('294'),
  purchaseAmount: D('294'),
  creditsGranted: D('294'),
  recoveryRate: D('0.8'),
  ...more,
});

interface Expected {
  proceeds: string;
  toInterest: string;
  toPrincipal: string;
  surplus: string;
  chargedOff: string;
  cancelledInterest: string;
  principalLeft: string;
  /** [number, principal paid, interest paid] after the recovery, for every installment. */
  after: [number, string, string][];
  changed: number[];
}

const cases: [string, RecoveryInput, Expected][] = [
  [
    'untouched credits at 80%: past-due interest first, then principal oldest first, the rest charged off',
    base({}),
    {
      proceeds: '235.20',
      toInterest: '7.53',
      toPrincipal: '227.67',
      surplus: '0',
      chargedOff: '72.33',
      cancelledInterest: '1.53',
      principalLeft: '300',
      after: [
        [1, '98', '4.5'],
        [2, '99.47', '3.03'],
        [3, '30.2', '0'],
      ],
      changed: [1, 2, 3],
    },
  ],
  [
    'no interest is paid on an installment not yet due (acceleration cancels it)',
    base({ now: day('2026-02-10') }),
    {
      proceeds: '235.20',
      toInterest: '4.5',
      toPrincipal: '230.7',
      surplus: '0',
      chargedOff: '69.3',
      cancelledInterest: '4.56',
      principalLeft: '300',
      after: [
        [1, '98', '4.5'],
        [2, '99.47', '0'],
        [3, '33.23', '0'],
      ],
      changed: [1, 2, 3],
    },
  ],
  [
    'proceeds round down to cents; half the credits spent halves them',
    base({ credits: D('147.123456') }),
    {
      proceeds: '117.69',
      toInterest: '7.53',
      toPrincipal: '110.16',
      surplus: '0',
      chargedOff: '189.84',
      cancelledInterest: '1.53',
      principalLeft: '300',
      after: [
        [1, '98', '4.5'],
        [2, '12.16', '3.03'],
        [3, '0', '0'],
      ],
      changed: [1, 2],
    },
  ],
  [
    'more than is owed: the surplus goes back to the borrower, nothing is charged off',
    base({
      recoveryRate: D('1'),
      installments: schedule([
        [1, '2026-02-01', '98.00', '4.50', '98.00', '4.50'],
        [2, '2026-03-01', '99.47', '3.03', '0', '3.03'],
        [3, '2026-04-01', '102.53', '1.53', '0', '0'],
      ]),
    }),
    {
      proceeds: '294',
      toInterest: '0',
      toPrincipal: '202',
      surplus: '92',
      chargedOff: '0',
      cancelledInterest: '1.53',
      principalLeft: '202',
      after: [
        [1, '98', '4.5'],
        [2, '99.47', '3.03'],
        [3, '102.53', '0'],
      ],
      changed: [2, 3],
    },
  ],
  [
    'no credits left: nothing recovered, everything owed charged off, the schedule untouched',
    base({ credits: D('0') }),
    {
      proceeds: '0',
      toInterest: '0',
      toPrincipal: '0',
      surplus: '0',
      chargedOff: '307.53',
      cancelledInterest: '1.53',
      principalLeft: '300',
      after: [
        [1, '0', '0'],
        [2, '0', '0'],
        [3, '0', '0'],
      ],
      changed: [],
    },
  ],
  [
    'a recovery rate of 0 recovers nothing',
    base({ recoveryRate: D('0') }),
    {
      proceeds: '0',
      toInterest: '0',
      toPrincipal: '0',
      surplus: '0',
      chargedOff: '307.53',
      cancelledInterest: '1.53',
      principalLeft: '300',
      after: [
        [1, '0', '0'],
        [2, '0', '0'],
        [3, '0', '0'],
      ],
      changed: [],
    },
  ],
];

describe('applyRecovery', () => {
  it.each(cases)('%s', (_name, input, expected) => {
    const out = applyRecovery(input);
    const figures = ['proceeds', 'toInterest', 'toPrincipal', 'surplus', 'chargedOff', 'cancelledInterest', 'principalLeft'] as const;
    expect(Object.fromEntries(figures.map((k) => [k, out[k].toFixed()]))).toEqual(Object.fromEntries(figures.map((k) => [k, D(expected[k]).toFixed()])));
    expect(out.installments.map((i) => [i.number, i.principalPaid.toFixed(), i.interestPaid.toFixed()])).toEqual(expected.after);
    expect(out.changed).toEqual(expected.changed);
    // Money is conserved: what is recovered is paid in, returned, or the owed rest is charged off.
    expect(out.toInterest.plus(out.toPrincipal).plus(out.surplus).eq(out.proceeds)).toBe(true);
    expect(out.toInterest.plus(out.toPrincipal).plus(out.chargedOff).eq(out.owed)).toBe(true);
  });

  it('leaves its input untouched', () => {
    const input = base({});
    applyRecovery(input);
    expect(input.installments.every((i) => i.principalPaid.isZero() && i.interestPaid.isZero())).toBe(true);
  });
});
