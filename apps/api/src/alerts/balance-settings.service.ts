import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError, type Decimal } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { CREDIT_SCALE, PRICE_SCALE, inputAmount } from '../common/amounts.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { assertPublicUrl } from '../net/index.js';
import { BalanceSettingsEntity } from './balance-settings.entity.js';
import { newWebhookSecret } from './domain/webhook-signing.js';
import { toBalanceSettingsModel, type BalanceSettingsModel } from './models/balance-settings.model.js';

/** What updateBalanceSettings may carry: a key left out keeps its value, null clears it. */
export interface BalanceSettingsPatchInput {
  lowBalanceThreshold?: unknown;
  autoRefillThreshold?: unknown;
  autoRefillCredits?: unknown;
  autoRefillMaxUnitPrice?: unknown;
  webhookUrl?: unknown;
}

interface Patch {
  lowBalanceThreshold?: Decimal | null;
  autoRefillThreshold?: Decimal | null;
  autoRefillCredits?: Decimal | null;
  autoRefillMaxUnitPrice?: Decimal | null;
  webhookUrl?: string | null;
}

/** A buyer's low-balance, auto-refill and webhook settings (SPEC §8). */
@Injectable()
export class BalanceSettingsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The buyer's settings; every field null when nothing was ever set. Never the secret. */
  async get(organizationId: string): Promise<BalanceSettingsModel> {
    return toBalanceSettingsModel(await this.dataSource.manager.findOneBy(BalanceSettingsEntity, { organizationId }));
  }

  /**
   * Applies a partial update. Every field is validated first (BAD_USER_INPUT, nothing changes);
   * auto-refill needs its threshold and credits together; a webhook URL must be a public address
   * (unless CCX_ALLOW_PRIVATE_URLS). Setting or changing the webhook URL
   * issues a new signing secret, returned only in this answer; clearing it stops the deliveries
   * still pending (there is nowhere left to send them).
   */
  async update(organizationId: string, input: BalanceSettingsPatchInput): Promise<BalanceSettingsModel> {
    const patch = parsePatch(input, this.config.allowPrivateUrls);
    return withTransaction(this.dataSource, async (manager) => {
      const now = this.clock.now();
      await manager.query(`INSERT INTO balance_settings (organization_id, updated_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [organizationId, now]);
      const current = await manager.findOneOrFail(BalanceSettingsEntity, { where: { organizationId }, lock: { mode: 'pessimistic_write' } });
      const next: BalanceSettingsEntity = { ...current, ...patch, updatedAt: now };
      if ((next.autoRefillThreshold === null) !== (next.autoRefillCredits === null)) {
        throw new BadInputError('auto-refill needs both autoRefillThreshold and autoRefillCredits (or neither)', {
          field: next.autoRefillThreshold === null ? 'autoRefillThreshold' : 'autoRefillCredits',
        });
      }
      let newSecret: string | null = null;
      if (next.webhookUrl === null) {
        next.webhookSecret = null;
        if (current.webhookUrl !== null) {
          // Delivery times are wall time (I/O), hence now() rather than the business clock.
          await manager.query(
            `UPDATE webhook_deliveries SET failed_at = now(), next_attempt_at = NULL, last_error = 'the webhook URL was removed'
              WHERE organization_id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
            [organizationId],
          );
        }
      } else if (next.webhookUrl !== current.webhookUrl) {
        // A new endpoint gets a new key. Pending deliveries follow the current URL and key, so
        // fixing a broken URL still delivers what was waiting.
        newSecret = newWebhookSecret();
        next.webhookSecret = newSecret;
      }
      const { organizationId: _key, ...fields } = next;
      await manager.update(BalanceSettingsEntity, { organizationId }, fields);
      return toBalanceSettingsModel(next, newSecret);
    });
  }
}

function parsePatch(input: BalanceSettingsPatchInput, allowPrivateUrls: boolean): Patch {
  const patch: Patch = {};
  const amount = (field: keyof BalanceSettingsPatchInput, scale: number, sign: 'positive' | 'nonNegative') => {
    const value = input[field];
    if (value === undefined) return undefined;
    return value === null ? null : inputAmount(value, field, { scale, sign });
  };
  const set = <K extends keyof Patch>(key: K, value: Patch[K] | undefined) => {
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
