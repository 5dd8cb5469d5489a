import { parseAlertsPage, parseBalanceSettingsPatch } from './alert-commands.js';
import { refusalOf as refusal } from '../../../../../test/support/refusal.js';

describe('parseAlertsPage', () => {
  it.each([
    [undefined, 50],
    [null, 50],
    [1, 1],
    [200, 200],
  ])('%p gives %i', (first, take) => expect(parseAlertsPage(first)).toBe(take));

  it.each([0, 201, 1.5, -1])('refuses %p', (first) => {
    expect(refusal(() => parseAlertsPage(first))).toEqual({ code: 'BAD_USER_INPUT', field: 'first', message: 'first must be a whole number from 1 to 200' });
  });
});

describe('parseBalanceSettingsPatch', () => {
  it('keeps left-out keys out, nulls as null, amounts as Decimals', () => {
    const patch = parseBalanceSettingsPatch({ lowBalanceThreshold: '0', autoRefillCredits: null, webhookUrl: 'https://example.com/hook' }, false);
    expect(Object.keys(patch).sort()).toEqual(['autoRefillCredits', 'lowBalanceThreshold', 'webhookUrl']);
    expect(patch.lowBalanceThreshold?.toFixed()).toBe('0');
    expect(patch.autoRefillCredits).toBeNull();
    expect(patch.webhookUrl).toBe('https://example.com/hook');
    expect(parseBalanceSettingsPatch({}, false)).toEqual({});
  });

  it('lets private webhook URLs through only when allowed', () => {
    expect(refusal(() => parseBalanceSettingsPatch({ webhookUrl: 'http://127.0.0.1/hook' }, false))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'webhookUrl' });
    expect(parseBalanceSettingsPatch({ webhookUrl: 'http://127.0.0.1/hook' }, true).webhookUrl).toBe('http://127.0.0.1/hook');
  });

  it.each([
    [{ lowBalanceThreshold: '-1' }, 'lowBalanceThreshold'],
    [{ autoRefillThreshold: '1.0000001' }, 'autoRefillThreshold'],
    [{ autoRefillCredits: '0' }, 'autoRefillCredits'],
    [{ autoRefillMaxUnitPrice: '0' }, 'autoRefillMaxUnitPrice'],
    [{ webhookUrl: 42 }, 'webhookUrl'],
    [{ webhookUrl: 'ftp://example.com' }, 'webhookUrl'],
  ])('refuses %j on %s', (input, field) => {
    expect(refusal(() => parseBalanceSettingsPatch(input, false))).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });
});
