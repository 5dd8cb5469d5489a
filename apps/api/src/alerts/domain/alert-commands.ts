import { BadInputError, type Decimal } from '@ccx/core';
import { CREDIT_SCALE, PRICE_SCALE, inputAmount, intInput } from '../../common/amounts.js';
import { assertPublicUrl } from '../../net/index.js';

export const DEFAULT_ALERTS_PAGE = 50;
export const MAX_ALERTS_PAGE = 200;

/** What updateBalanceSettings carries, parsed: a key left out keeps its value, null clears it. */
export interface BalanceSettingsPatch {
  lowBalanceThreshold?: Decimal | null;
  autoRefillThreshold?: Decimal | null;
  autoRefillCredits?: Decimal | null;
  autoRefillMaxUnitPrice?: Decimal | null;
  webhookUrl?: string | null;
}

type BalanceSettingsInput = { [K in keyof BalanceSettingsPatch]?: unknown };

/** How many alerts `alerts(first)` returns: 50 when left out, else 1 to 200. */
export function parseAlertsPage(first: unknown): number {
  return intInput(first ?? DEFAULT_ALERTS_PAGE, 'first', 1, MAX_ALERTS_PAGE);
}

/**
 * updateBalanceSettings' input, every field checked before anything changes (BAD_USER_INPUT).
 * Whether auto-refill's threshold and credits come together depends on the stored settings too,
 * so the service checks that.
 */
export function parseBalanceSettingsPatch(input: BalanceSettingsInput, allowPrivateUrls: boolean): BalanceSettingsPatch {
  const patch: BalanceSettingsPatch = {};
  const amount = (field: keyof BalanceSettingsInput, scale: number, sign: 'positive' | 'nonNegative') => {
    const value = input[field];
    if (value === undefined) return undefined;
    return value === null ? null : inputAmount(value, field, { scale, sign });
  };
  const set = <K extends keyof BalanceSettingsPatch>(key: K, value: BalanceSettingsPatch[K] | undefined) => {
    if (value !== undefined) patch[key] = value;
  };
  set('lowBalanceThreshold', amount('lowBalanceThreshold', CREDIT_SCALE, 'nonNegative'));
  set('autoRefillThreshold', amount('autoRefillThreshold', CREDIT_SCALE, 'nonNegative'));
  set('autoRefillCredits', amount('autoRefillCredits', CREDIT_SCALE, 'positive'));
  set('autoRefillMaxUnitPrice', amount('autoRefillMaxUnitPrice', PRICE_SCALE, 'positive'));
  if (input.webhookUrl !== undefined) patch.webhookUrl = input.webhookUrl === null ? null : webhookUrlInput(input.webhookUrl, allowPrivateUrls);
  return patch;
}

/**
 * An absolute http(s) URL of at most 2048 characters, without credentials, that does not name a
 * loopback, private, link-local or metadata address unless `allowPrivateUrls` (SSRF: the server
 * POSTs to it); else BAD_USER_INPUT. Stored as written: what the buyer reads back is what they set.
 */
export function webhookUrlInput(value: unknown, allowPrivateUrls: boolean): string {
  if (typeof value !== 'string') throw new BadInputError('webhookUrl must be an http(s) URL', { field: 'webhookUrl' });
  assertPublicUrl(value, { allowPrivate: allowPrivateUrls, field: 'webhookUrl' });
  return value;
}
