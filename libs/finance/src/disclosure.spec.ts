import { Decimal } from '@ccx/core';
import { disclosure } from './disclosure.js';

const d = (value: string) => new Decimal(value);
const CHECK_LOAN = { principal: d('100000.00'), apr: d('0.18'), termMonths: 12, startDate: new Date('2026-01-31T10:00:00.000Z') };

describe('disclosure (SPEC §7, Regulation Z)', () => {
  it.each([
    ['no fee', '0', '100000.00', '0.1800', '10015.99'],
    ['1% fee (SPEC check)', '1000.00', '99000.00', '0.1994', '11015.99'],
    ["2% fee (CCX's financing fee)", '2000.00', '98000.00', '0.2191', '12015.99'],
  ])('check loan with %s', (_name, fee, amountFinanced, disclosedApr, financeCharge) => {
    const result = disclosure({ ...CHECK_LOAN, prepaidFinanceCharge: d(fee) });
    expect({
      installments: result.schedule.length,
      lastPayment: result.schedule[11].payment.toFixed(2),
      totalInterest: result.totalInterest.toFixed(2),
      amountFinanced: result.amountFinanced.toFixed(2),
      disclosedApr: result.disclosedApr.toFixed(4),
      financeCharge: result.financeCharge.toFixed(2),
      totalOfPayments: result.totalOfPayments.toFixed(2),
    }).toEqual({
      installments: 12,
      lastPayment: '9167.99',
      totalInterest: '10015.99',
      amountFinanced,
      disclosedApr,
      financeCharge,
      totalOfPayments: '110015.99',
    });
    // Regulation Z's identity: total of payments = amount financed + finance charge.
    expect(result.totalOfPayments.eq(result.amountFinanced.plus(result.financeCharge))).toBe(true);
  });

  it.each([
    ['a negative fee', '-1.00', /must not be negative/],
    ['a fee of the whole principal', '100000.00', /must be less than the principal/],
    ['a fee in fractions of a cent', '1000.005', /prepaidFinanceCharge must be whole cents/],
  ])('rejects %s', (_name, fee, message) => {
    expect(() => disclosure({ ...CHECK_LOAN, prepaidFinanceCharge: d(fee) })).toThrow(RangeError);
    expect(() => disclosure({ ...CHECK_LOAN, prepaidFinanceCharge: d(fee) })).toThrow(message);
  });

  it('passes schedule validation errors through', () => {
    expect(() => disclosure({ ...CHECK_LOAN, termMonths: 0, prepaidFinanceCharge: d('0') })).toThrow(/termMonths/);
  });
});
