import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BadInputError } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { BalanceSettingsEntity } from './balance-settings.entity.js';
import type { BalanceSettingsPatch } from './domain/alert-commands.js';
import { newWebhookSecret } from './domain/webhook-signing.js';
import { toBalanceSettingsModel, type BalanceSettingsModel } from './models/balance-settings.model.js';

/** A buyer's low-balance, auto-refill and webhook settings (SPEC §8). */
@Injectable()
export class BalanceSettingsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
  ) {}

  /** The buyer's settings; every field null when nothing was ever set. Never the secret. */
  async get(organizationId: string): Promise<BalanceSettingsModel> {
    return toBalanceSettingsModel(await this.dataSource.manager.findOneBy(BalanceSettingsEntity, { organizationId }));
  }

  /**
   * Applies a partial update, its fields already checked (parseBalanceSettingsPatch); auto-refill
   * needs its threshold and credits together, with what is stored (BAD_USER_INPUT). Setting or changing the webhook URL
   * issues a new signing secret, returned only in this answer; clearing it stops the deliveries
   * still pending (there is nowhere left to send them).
   */
  async update(organizationId: string, patch: BalanceSettingsPatch): Promise<BalanceSettingsModel> {
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
