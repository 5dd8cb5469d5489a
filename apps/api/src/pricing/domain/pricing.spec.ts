import { Decimal } from '@ccx/core';
import { defaultBusinessRules } from '../../config/business-rules.js';
import { cheapestFill, type Capacity } from '../../listings/index.js';
import { demandMultiplier, reservedUnitPrice, standardUnitPrice, termDiscount, timeOfDayFactor, totalPrice } from './pricing.js';

const rules = defaultBusinessRules().pricing;
const D = (v: string) => new Decimal(v);
const NOON = new Date('2026-01-05T12:00:00Z');

describe('SPEC §5 example', () => {
  it('1,000 H100 credits at 1.50/GPU-hour, u = 0, noon: 1.800000 each, 1,800.00 in all', () => {
    const fill = cheapestFill([{ listingId: 'h100', available: D('10000'), costPerCredit: D('1.5') }], D('1000'))!;
    const unit = standardUnitPrice(fill, D('0'), NOON, rules);
    expect(unit.toFixed(6)).toBe('1.800000');
    expect(totalPrice(D('1000'), unit).toFixed(2)).toBe('1800.00');
  });

  it('with 500 A100 credits at 1.40 each, 1,500 credits cost 2,200.00 wholesale, unit 1.760000', () => {
    const capacity: Capacity[] = [
      { listingId: 'a100', available: D('500'), costPerCredit: D('1.4') },
      { listingId: 'h100', available: D('10000'), costPerCredit: D('1.5') },
    ];
    const fill = cheapestFill(capacity, D('1500'))!;
    expect(fill.wholesaleCost.toFixed(2)).toBe('2200.00');
    expect(fill.parts.map((p) => [p.listingId, p.credits.toFixed()])).toEqual([
      ['a100', '500'],
      ['h100', '1000'],
    ]);
    expect(standardUnitPrice(fill, D('0'), NOON, rules).toFixed(6)).toBe('1.760000');
  });
});

describe('demand multiplier', () => {
  it.each([
    ['0', '1'],
    ['0.5', '1'],
    ['0.75', '1.25'],
    ['1', '1.5'],
  ])('u = %s gives %s', (u, expected) => {
    expect(demandMultiplier(D(u), rules).toFixed()).toBe(expected);
  });
});

describe('time of day', () => {
  it.each([
    ['2026-01-05T21:59:59Z', '1'],
    ['2026-01-05T22:00:00Z', '0.9'],
    ['2026-01-06T00:30:00Z', '0.9'],
    ['2026-01-06T05:59:59Z', '0.9'],
    ['2026-01-06T06:00:00Z', '1'],
    ['2026-01-06T12:00:00Z', '1'],
  ])('%s has factor %s', (at, expected) => {
    expect(timeOfDayFactor(new Date(at), rules).toFixed()).toBe(expected);
  });
  it('prices a night order 10% lower', () => {
    const fill = cheapestFill([{ listingId: 'h', available: D('100'), costPerCredit: D('1.5') }], D('100'))!;
    expect(standardUnitPrice(fill, D('0'), new Date('2026-01-05T23:00:00Z'), rules).toFixed(6)).toBe('1.620000');
  });
  it('applies demand and night together: u = 0.8 at 23:00', () => {
    const fill = cheapestFill([{ listingId: 'h', available: D('100'), costPerCredit: D('1.5') }], D('100'))!;
    // 1.5 × 1.2 × 1.3 × 0.9 = 2.106
    expect(standardUnitPrice(fill, D('0.8'), new Date('2026-01-05T23:00:00Z'), rules).toFixed(6)).toBe('2.106000');
  });
});

describe('term discounts', () => {
  it.each([
    [1, '0.05'],
    [2, '0.05'],
    [3, '0.1'],
    [5, '0.1'],
    [6, '0.15'],
    [11, '0.15'],
    [12, '0.25'],
    [36, '0.25'],
  ])('%d months: %s', (months, rate) => {
    expect(termDiscount(months, rules).toFixed()).toBe(rate);
  });
  it('reserved unit price rounds HALF_UP to 6 decimals', () => {
    expect(reservedUnitPrice(D('1.8'), D('0.25')).toFixed(6)).toBe('1.350000');
    expect(reservedUnitPrice(D('1.333333'), D('0.05')).toFixed(6)).toBe('1.266666');
    expect(reservedUnitPrice(D('1.333335'), D('0.10')).toFixed(6)).toBe('1.200002');
  });
});
