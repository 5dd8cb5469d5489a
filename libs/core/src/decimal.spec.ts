import { parseAmount, roundCreditsCharged, roundCreditsGranted, roundUnitPrice, roundUsd, AmountParseError } from './decimal.js';

describe('parseAmount', () => {
  const accepted: [string, number, string][] = [
    ['1', 2, '1'],
    ['1.5', 2, '1.5'],
    ['1234.56', 2, '1234.56'],
    ['0.000001', 6, '0.000001'],
    ['1000000000000000', 2, '1000000000000000'],
    ['10.10', 2, '10.1'],
  ];
  it.each(accepted)('accepts %s at scale %d', (input, scale, expected) => {
    expect(parseAmount(input, { scale }).toFixed()).toBe(expected);
  });

  const rejected: [unknown, number, string][] = [
    ['1.234', 2, 'TOO_MANY_DECIMALS'],
    ['0.0000001', 6, 'TOO_MANY_DECIMALS'],
    ['0', 2, 'NOT_POSITIVE'],
    ['0.00', 2, 'NOT_POSITIVE'],
    ['-1', 2, 'NOT_POSITIVE'],
    ['NaN', 2, 'NOT_DECIMAL_NOTATION'],
    ['Infinity', 2, 'NOT_DECIMAL_NOTATION'],
    ['-Infinity', 2, 'NOT_DECIMAL_NOTATION'],
    ['1e3', 2, 'NOT_DECIMAL_NOTATION'],
    ['1E-2', 2, 'NOT_DECIMAL_NOTATION'],
    ['+1', 2, 'NOT_DECIMAL_NOTATION'],
    [' 1', 2, 'NOT_DECIMAL_NOTATION'],
    ['1.', 2, 'NOT_DECIMAL_NOTATION'],
    ['.5', 2, 'NOT_DECIMAL_NOTATION'],
    ['01', 2, 'NOT_DECIMAL_NOTATION'],
    ['0x10', 2, 'NOT_DECIMAL_NOTATION'],
    ['1,000', 2, 'NOT_DECIMAL_NOTATION'],
    ['abc', 2, 'NOT_DECIMAL_NOTATION'],
    ['', 2, 'NOT_DECIMAL_NOTATION'],
    ['1000000000000001', 2, 'TOO_LARGE'],
    ['9'.repeat(70), 2, 'NOT_DECIMAL_NOTATION'],
    [12.5, 2, 'NOT_A_STRING'],
    [null, 2, 'NOT_A_STRING'],
  ];
  it.each(rejected)('rejects %p at scale %d (%s)', (input, scale, problem) => {
    expect(() => parseAmount(input, { scale })).toThrow(AmountParseError);
    try {
      parseAmount(input, { scale });
    } catch (e) {
      expect((e as AmountParseError).problem).toBe(problem);
    }
  });

  it('allows zero and negatives only when asked', () => {
    expect(parseAmount('0', { scale: 2, sign: 'nonNegative' }).toFixed()).toBe('0');
    expect(() => parseAmount('-0.01', { scale: 2, sign: 'nonNegative' })).toThrow(AmountParseError);
    expect(parseAmount('-0.01', { scale: 2, sign: 'any' }).toFixed()).toBe('-0.01');
    expect(parseAmount('-0', { scale: 2, sign: 'any' }).toFixed()).toBe('0');
  });
});

describe('rounding boundaries (SPEC §1)', () => {
  it.each([
    ['1.005', '1.01'],
    ['1.004999', '1'],
    ['2.675', '2.68'],
    ['-1.005', '-1.01'],
  ])('USD %s rounds HALF_UP to %s', (value, expected) => {
    expect(roundUsd(value).toFixed()).toBe(expected);
  });
  it.each([
    ['1.0000009', '1'],
    ['0.9999999', '0.999999'],
    ['5', '5'],
  ])('granted credits %s round DOWN to %s', (value, expected) => {
    expect(roundCreditsGranted(value).toFixed()).toBe(expected);
  });
  it.each([
    ['0.0000001', '0.000001'],
    ['1.0000000001', '1.000001'],
    ['2', '2'],
  ])('charged credits %s round UP to %s', (value, expected) => {
    expect(roundCreditsCharged(value).toFixed()).toBe(expected);
  });
  it.each([
    ['1.8000005', '1.800001'],
    ['1.7999994', '1.799999'],
  ])('unit price %s rounds HALF_UP to %s', (value, expected) => {
    expect(roundUnitPrice(value).toFixed()).toBe(expected);
  });
});
