import { Decimal } from '@ccx/core';
import { cheapestFill, cheapestFillForAmount, monthlyFill, utilization, type WindowedCapacity } from './fill.js';

const D = (v: string) => new Decimal(v);

describe('cheapestFill', () => {
  it('returns null when capacity is short', () => {
    expect(cheapestFill([{ listingId: 'x', available: D('5'), costPerCredit: D('1') }], D('5.000001'))).toBeNull();
  });
  it('skips empty listings', () => {
    const fill = cheapestFill(
      [
        { listingId: 'empty', available: D('0'), costPerCredit: D('0.1') },
        { listingId: 'x', available: D('5'), costPerCredit: D('1') },
      ],
      D('2'),
    )!;
    expect(fill.parts.map((p) => p.listingId)).toEqual(['x']);
  });
});

describe('cheapestFillForAmount (SPEC §7): what money buys at wholesale', () => {
  const parts = (fill: ReturnType<typeof cheapestFillForAmount>) => fill && fill.parts.map((p) => [p.listingId, p.credits.toFixed()]);
  it.each<[string, [string, string, string][], string, string[][] | null, string | null]>([
    ['whole listings while the money lasts', [['a', '10', '1'], ['b', '10', '2']], '30', [['a', '10'], ['b', '10']], '20'],
    ['the rest buys part of the next, rounded down to micro-credits', [['a', '10', '1'], ['b', '10', '3']], '11', [['a', '10'], ['b', '0.333333']], '10.333333'],
    ['skips empty listings', [['e', '0', '0.5'], ['a', '10', '1']], '4', [['a', '4']], '4'],
    ['more money than the market: null', [['a', '10', '1']], '11', null, null],
  ])('%s', (_name, capacity, amount, expected, credits) => {
    const fill = cheapestFillForAmount(capacity.map(([listingId, available, cost]) => ({ listingId, available: D(available), costPerCredit: D(cost) })), D(amount));
    expect(parts(fill)).toEqual(expected);
    expect(fill ? fill.credits.toFixed() : null).toBe(credits);
  });
});

describe('utilization', () => {
  it.each([
    ['0', '0', '0'],
    ['50', '100', '0.5'],
  ])('%s of %s is %s', (allocated, total, expected) => {
    expect(utilization(D(allocated), D(total)).toFixed()).toBe(expected);
  });
});

describe('monthlyFill (SPEC §6): each month from the listings whose window covers its delivery', () => {
  const JAN5 = new Date('2026-01-05T12:00:00Z');
  const FEB5 = new Date('2026-02-05T12:00:00Z');
  const MAR5 = new Date('2026-03-05T12:00:00Z');
  const listing = (listingId: string, available: string, cost: string, from: string, until: string): WindowedCapacity => ({
    listingId,
    available: D(available),
    costPerCredit: D(cost),
    availableFrom: new Date(from),
    availableUntil: new Date(until),
  });
  const summary = (fill: ReturnType<typeof monthlyFill>) => fill && fill.parts.map((p) => [p.month, p.listingId, p.credits.toFixed()]);

  it.each<[string, WindowedCapacity[], string, Date[], (string | number)[][] | null, string | null]>([
    ['one listing covering every month', [listing('a', '1000', '1.5', '2026-01-01', '2027-01-01')], '100', [JAN5, FEB5, MAR5], [[0, 'a', '100'], [1, 'a', '100'], [2, 'a', '100']], '450'],
    ['a listing that closes after month 1 supplies month 1 only', [listing('short', '1000', '1.2', '2026-01-01', '2026-01-26'), listing('long', '1000', '1.5', '2026-01-01', '2027-01-01')], '100', [JAN5, FEB5], [[0, 'short', '100'], [1, 'long', '100']], '270'],
    ['a listing that opens later supplies the later months', [listing('later', '1000', '1.0', '2026-02-01', '2027-01-01'), listing('now', '1000', '1.5', '2026-01-01', '2027-01-01')], '100', [JAN5, FEB5], [[0, 'now', '100'], [1, 'later', '100']], '250'],
    ['availableUntil is exclusive, availableFrom inclusive', [listing('edge', '1000', '1.0', '2026-02-05T12:00:00Z', '2026-03-05T12:00:00Z'), listing('all', '1000', '2', '2026-01-01', '2027-01-01')], '10', [JAN5, FEB5, MAR5], [[0, 'all', '10'], [1, 'edge', '10'], [2, 'all', '10']], '50'],
    ['a month split across listings, capacity shared between months', [listing('a', '150', '1.0', '2026-01-01', '2027-01-01'), listing('b', '1000', '2', '2026-01-01', '2027-01-01')], '100', [JAN5, FEB5], [[0, 'a', '100'], [1, 'a', '50'], [1, 'b', '50']], '250'],
    ['a month nobody covers: null', [listing('short', '1000', '1.2', '2026-01-01', '2026-01-26')], '100', [JAN5, FEB5], null, null],
    ['a month short of capacity: null', [listing('a', '150', '1.0', '2026-01-01', '2027-01-01')], '100', [JAN5, FEB5], null, null],
  ])('%s', (_name, capacity, perMonth, deliveries, parts, wholesale) => {
    const fill = monthlyFill(capacity, D(perMonth), deliveries);
    expect(summary(fill)).toEqual(parts);
    if (fill) {
      expect(fill.wholesaleCost.toFixed()).toBe(wholesale);
      expect(fill.credits.toFixed()).toBe(D(perMonth).times(deliveries.length).toFixed());
    }
  });
});
