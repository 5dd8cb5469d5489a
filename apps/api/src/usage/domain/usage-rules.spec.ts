import { Decimal } from '@ccx/core';
import { burnDownOrder, drawCredits, eventCost, eventCostMicro, MicroBurnDown, microRate, microText, toMicro, type SpendableBlock } from './usage-rules.js';

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
    ['13459.2', '32.25', '120.572'], // exactly 120.572: dividing by 3600 first rounded it up to 120.572001
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

describe('micro-credit hot path agrees with the Decimal rules', () => {
  // A small deterministic generator (no flaky seeds): the same cases every run.
  let seed = 20261204;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const int = (max: number) => Math.floor(next() * (max + 1));
  const decimal = (maxInt: number, maxScale: number) => {
    const scale = int(maxScale);
    return new Decimal(int(maxInt)).plus(new Decimal(int(10 ** scale - 1)).shiftedBy(-scale));
  };

  it('eventCostMicro equals eventCost for 5,000 token and GPU events, rates of up to 9 decimals', () => {
    for (let k = 0; k < 2500; k++) {
      const q = { kind: 'tokens' as const, model: 'm', inputTokens: int(k % 2 ? 1_000_000_000_000 : 5000), outputTokens: int(k % 3 ? 2_000_000 : 1_000_000_000_000) };
      const rate = { kind: 'tokens' as const, inputPerMillion: decimal(50, 9), outputPerMillion: decimal(200, 9) };
      expect(microText(eventCostMicro(q, microRate(rate)))).toBe(eventCost(q, rate).toFixed(6));
      const g = { kind: 'gpu' as const, gpuType: 'x', gpuSeconds: decimal(100_000, 6) };
      const gr = { kind: 'gpu' as const, creditsPerGpuHour: decimal(40, 9) };
      expect(microText(eventCostMicro(g, microRate(gr)))).toBe(eventCost(g, gr).toFixed(6));
    }
  });

  it('MicroBurnDown draws exactly what drawCredits draws, event after event, and writes back the same balances', () => {
    for (let round = 0; round < 200; round++) {
      const blocks = () =>
        Array.from({ length: 1 + int(6) }, (_, i): SpendableBlock => ({
          blockId: `b${i}`,
          accountId: `a${i}`,
          expiresAt: null,
          createdAt: new Date(i),
          available: i === 2 && round % 5 === 0 ? new Decimal('-1.5') : decimal(20, 6),
        }));
      const seedBefore = seed;
      const reference = blocks();
      seed = seedBefore;
      const fast = blocks();
      const burner = new MicroBurnDown(fast);
      for (let e = 0; e < 15; e++) {
        const cost = decimal(8, 6).plus('0.000001');
        const expected = drawCredits(reference, cost);
        const got = burner.draw(toMicro(cost));
        expect(got === null).toBe(expected === null);
        if (expected && got) expect(got.map((d) => `${d.accountId}:${microText(d.micro)}`)).toEqual(expected.map((d) => `${d.accountId}:${d.credits.toFixed(6)}`));
      }
      burner.writeBack();
      expect(fast.map((b) => b.available.toFixed())).toEqual(reference.map((b) => b.available.toFixed()));
    }
  });

  it('writes micro-credits as the API does', () => {
    expect([0n, 1n, 999_999n, 1_000_000n, 12_345_678n, -1n].map(microText)).toEqual(['0.000000', '0.000001', '0.999999', '1.000000', '12.345678', '-0.000001']);
    expect(toMicro(new Decimal('12.3456789'))).toBe(12_345_678n);
  });
});
