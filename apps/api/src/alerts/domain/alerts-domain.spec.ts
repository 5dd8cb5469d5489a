import { Decimal } from '@ccx/core';
import { crossedBelow } from './crossing.js';
import { MAX_DELIVERY_ATTEMPTS, deliveryExhausted, retryDelayMs } from './retry-schedule.js';
import { newWebhookSecret, signatureHeader } from './webhook-signing.js';

const D = (v: string) => new Decimal(v);

describe('crossedBelow (SPEC §8: crossing below a threshold emits one alert)', () => {
  it.each([
    ['from above to below', '12', '8', '10', true],
    ['from exactly the threshold to below', '10', '9.999999', '10', true],
    ['staying above', '20', '15', '10', false],
    ['down to exactly the threshold', '12', '10', '10', false],
    ['already below, falling further', '9', '5', '10', false],
    ['rising back above', '5', '12', '10', false],
    ['no threshold set', '12', '8', null, false],
    ['threshold 0 can never be crossed by a balance that cannot go negative', '1', '0', '0', false],
  ])('%s', (_label, before, after, threshold, expected) => {
    expect(crossedBelow(D(before), D(after), threshold === null ? null : D(threshold))).toBe(expected);
  });
});

describe('retryDelayMs', () => {
  it.each([
    [1, 0, 2_000],
    [2, 0, 4_000],
    [3, 0, 8_000],
    [11, 0, 2_048_000],
    [12, 0, 3_600_000],
    [19, 0, 3_600_000],
    [1, 0.999999, 2_200],
    [12, 0.5, 3_780_000],
  ])('after attempt %i (random %d) waits %i ms', (attempts, random, ms) => {
    expect(retryDelayMs(attempts, random)).toBe(ms);
  });

  it('never shrinks as attempts grow', () => {
    for (let n = 1; n < MAX_DELIVERY_ATTEMPTS; n++) expect(retryDelayMs(n + 1, 0)).toBeGreaterThanOrEqual(retryDelayMs(n, 0));
  });

  it('gives up after the last attempt only', () => {
    expect(deliveryExhausted(MAX_DELIVERY_ATTEMPTS - 1)).toBe(false);
    expect(deliveryExhausted(MAX_DELIVERY_ATTEMPTS)).toBe(true);
  });
});

describe('webhook signing', () => {
  it('signs "<t>.<body>" with HMAC-SHA256 (vector computed with openssl)', () => {
    expect(signatureHeader('whsec_test', 1_700_000_000, '{"id":"x"}')).toBe(
      't=1700000000,v1=80e8d098018f757aa814ab1abb924f35d304affa1d93d29611a54696207eb7c3',
    );
  });

  it('makes a different 32-byte base64url secret each time', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice(6), 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});
