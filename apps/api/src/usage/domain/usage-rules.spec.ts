import { Decimal } from '@ccx/core';
import { burnDownOrder, drawCredits, eventCost, type SpendableBlock } from './usage-rules.js';

const D = (v: string) => new Decimal(v);

describe('eventCost (SPEC §8)', () => {
  it.each([
    // input, output, in rate, out rate, expected
    [1_000_000, 0, '0.5', '1.5', '0.5'],
    [0, 1_000_000, '0.5', '1.5', '1.5'],
    [1000, 500, '0.5', '1.5', '0.00125'],
    [1, 0, '0.5', '1.5', '0.000001'], // 0.0000005 rounds UP
    [3, 7, '0.333333', '0.777777', '0.000007'], // 0.000999999 + 0.005444439 = 0.00000644 → up
    [123_456_789, 987_654_321, '2', '8', '8148.148146'],
  ])('%d in + %d out at %s/%s per million costs %s', (input, output, inRate, outRate, expected) => {
    expect(
      eventCost({ kind: 'tokens', model: 'm', inputTokens: input, outputTokens: output }, { kind: 'tokens', inputPerMillion: D(inRate), outputPerMillion: D(outRate) }).toFixed(),
    ).toBe(expected);
  });

  it.each([
    ['3600', '1', '1'],
    ['1800', '2.2', '1.1'],
    ['1', '1', '0.000278'], // 0.000277…  → up
    ['0.001', '0.35', '0.000001'],
    ['36000', '0.5', '5'],
  ])('%s GPU-seconds at %s credits/hour cost %s', (seconds, perHour, expected) => {
    expect(eventCost({ kind: 'gpu', gpuType: 'x', gpuSeconds: D(seconds) }, { kind: 'gpu', creditsPerGpuHour: D(perHour) }).toFixed()).toBe(expected);
  });

  it('a zero-token event costs zero (the caller refuses it)', () => {
    expect(eventCost({ kind: 'tokens', model: 'm', inputTokens: 0, outputTokens: 0 }, { kind: 'tokens', inputPerMillion: D('1'), outputPerMillion: D('1') }).isZero()).toBe(true);
  });
});

describe('burn-down', () => {
  const block = (id: string, expires: string | null, created: string, available: string): SpendableBlock => ({
    blockId: id,
    accountId: `acct-${id}`,
    expiresAt: expires ? new Date(expires) : null,
    createdAt: new Date(created),
    available: D(available),
  });

  it('spends the soonest-expiring first, no-expiry last, then the oldest', () => {
    const ordered = burnDownOrder([
      block('standard-old', null, '2026-01-01T00:00:00Z', '10'),
      block('reserved-late', '2026-06-01T00:00:00Z', '2026-01-03T00:00:00Z', '10'),
      block('standard-new', null, '2026-01-02T00:00:00Z', '10'),
      block('reserved-soon', '2026-03-01T00:00:00Z', '2026-01-04T00:00:00Z', '10'),
    ]);
    expect(ordered.map((b) => b.blockId)).toEqual(['reserved-soon', 'reserved-late', 'standard-old', 'standard-new']);
  });

  it('draws across blocks, all or nothing', () => {
    const blocks = burnDownOrder([block('a', '2026-03-01T00:00:00Z', '2026-01-01T00:00:00Z', '1.5'), block('b', null, '2026-01-01T00:00:00Z', '2')]);
    expect(drawCredits(blocks, D('3.500001'))).toBeNull();
    expect(blocks.map((b) => b.available.toFixed())).toEqual(['1.5', '2']);
    const draws = drawCredits(blocks, D('2.25'))!;
    expect(draws.map((d) => [d.blockId, d.credits.toFixed()])).toEqual([
      ['a', '1.5'],
      ['b', '0.75'],
    ]);
    expect(blocks.map((b) => b.available.toFixed())).toEqual(['0', '1.25']);
  });
});
