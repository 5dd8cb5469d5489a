import { Decimal } from '@ccx/core';
import { earlyTerminationFee, type FeeBasis } from './early-termination-fee.js';

const RATE = new Decimal('0.25');
const base: FeeBasis = { status: 'ACTIVE', termMonths: 12, monthsDelivered: 1, creditsPerMonth: new Decimal('1000'), unitPrice: new Decimal('1.527600'), earlyTerminationFee: null };

describe('earlyTerminationFee', () => {
  it.each<[string, Partial<FeeBasis>, string]>([
    ['active: 25% of the 11 undelivered months, in cents', {}, '4200.90'],
    ['past due: the same rule', { status: 'PAST_DUE' }, '4200.90'],
    ['rounded half up to the cent', { creditsPerMonth: new Decimal('1'), unitPrice: new Decimal('0.018182'), monthsDelivered: 11 }, '0.00'],
    ['rounded half up to the cent (up)', { creditsPerMonth: new Decimal('1'), unitPrice: new Decimal('0.02'), monthsDelivered: 11 }, '0.01'],
    ['last month delivered: nothing undelivered', { monthsDelivered: 12 }, '0.00'],
    ['completed: nothing owed', { status: 'COMPLETED', monthsDelivered: 12 }, '0.00'],
    ['cancelled: what it was charged', { status: 'CANCELLED', earlyTerminationFee: new Decimal('12.34') }, '12.34'],
  ])('%s', (_what, patch, expected) => {
    expect(earlyTerminationFee({ ...base, ...patch }, RATE).toFixed(2)).toBe(expected);
  });
});
