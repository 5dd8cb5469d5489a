import { isRealInstant } from './instants.js';

describe('isRealInstant', () => {
  it.each([
    ['2026-01-05T12:00:00Z', true],
    ['2026-01-05T12:00:00.123456789+02:00', true],
    ['2028-02-29T00:00Z', true],
    ['2026-02-29T00:00:00Z', false], // not a leap year: new Date would say March 1
    ['2026-02-30T00:00:00Z', false],
    ['2026-13-01T00:00:00Z', false],
    ['2026-01-05T24:00:00Z', false],
    ['2026-01-05T12:60:00Z', false],
    ['2026-01-05T12:00:60Z', false],
    ['2026-01-05T12:00:00+24:00', false],
    ['2026-01-05T12:00:00', false], // no offset: whose noon?
    ['0000-01-01T00:00:00Z', false], // PostgreSQL has no year 0
    ['9999-12-31T23:59:59Z', true],
    ['2026-01-05', false],
  ])('%s → %s', (text, real) => expect(isRealInstant(text)).toBe(real));
});
