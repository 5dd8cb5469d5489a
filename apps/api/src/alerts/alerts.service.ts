import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, formatAmount } from '@ccx/core';
import { namedRows } from '@ccx/ledger';
import { CREDIT_SCALE } from '../common/amounts.js';
import { newId } from '../common/ids.js';
import { AlertEntity } from './alert.entity.js';
import { ALERT_KINDS, AlertKind } from './domain/alert-kind.js';
import { crossedBelow } from './domain/crossing.js';

export interface EmitAlertInput {
  organizationId: string;
  kind: AlertKind;
  /** Shown to the organization as is (1–1000 characters; longer is cut); never another organization's data. */
  message: string;
  /** Plain JSON facts for webhook receivers (amounts as strings). */
  data?: Record<string, unknown>;
  /** Business time of the cause (ClockService.now() of the caller's use case). */
  at: Date;
}

export interface BalanceChangedInput {
  organizationId: string;
  /** The buyer's available credits before and after the change. */
  before: Decimal;
  after: Decimal;
  at: Date;
}

/** A fall of a buyer's available credits whose totals are read only when a threshold needs them. */
export interface BalanceFellInput {
  organizationId: string;
  /** How far the buyer's available credits fell (nothing is judged unless it is above zero). */
  by: Decimal;
  /**
   * The buyer's available credits after the fall, in the caller's transaction. Called only when
   * the buyer has a threshold to judge: a sum over every block, which a charge that read only the
   * blocks it draws from would otherwise pay on every call.
   */
  after: () => Promise<Decimal>;
  at: Date;
}

const MAX_MESSAGE_LENGTH = 1000;

/** Read once per charge of a buyer whose balance fell (a named statement). */
const BALANCE_SETTINGS = {
  name: 'ccx_alerts_balance_settings',
  text: `SELECT low_balance_threshold, auto_refill_threshold, auto_refill_credits, auto_refill_max_unit_price, webhook_url
         FROM balance_settings WHERE organization_id = $1`,
};

interface SettingsRow {
  low_balance_threshold: string | null;
  auto_refill_threshold: string | null;
  auto_refill_credits: string | null;
  auto_refill_max_unit_price: string | null;
  webhook_url: string | null;
}

const decimalOrNull = (value: string | null) => (value === null ? null : new Decimal(value));

/**
 * Alerts (SPEC §8). Other modules call `emitInTransaction` and `balanceChangedInTransaction` inside their own transaction,
 * so an alert, its webhook delivery and an auto-refill job are written with their cause or not
 * at all (the transactional outbox); the WebhookDispatcher and AutoRefillWorker act on them later.
 */
@Injectable()
export class AlertsService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records an alert for `organizationId` and, when it has a webhook URL, queues its delivery —
   * both through `manager`, in the caller's transaction. One indexed read of balance_settings.
   */
  async emitInTransaction(manager: EntityManager, input: EmitAlertInput): Promise<void> {
    const [row] = await manager.query(`SELECT webhook_url FROM balance_settings WHERE organization_id = $1`, [input.organizationId]);
    await this.insert(manager, input, row?.webhook_url ?? null);
  }

  /**
   * Called by usage after it consumed a buyer's credits, in the same transaction, once per buyer
   * per batch. A fall from at or above a threshold to below it emits one LOW_BALANCE alert and/or
   * queues one auto-refill job; anything else does nothing. Hot path: no query when the balance
   * did not fall, otherwise one primary-key read of balance_settings (plus the writes it causes).
   */
  async balanceChangedInTransaction(manager: EntityManager, input: BalanceChangedInput): Promise<void> {
    if (!input.after.lt(input.before)) return;
    const [row] = await namedRows<SettingsRow>(manager, BALANCE_SETTINGS, [input.organizationId]);
    if (!row) return;
    await this.judgeFall(manager, row, input);
  }

  /**
   * `balanceChangedInTransaction` for a caller that knows how far the balance fell but not the
   * totals: the same primary-key read of balance_settings, and `after()` only when the buyer has
   * a low-balance or auto-refill threshold (before = after + by: the caller holds the buyer's
   * credit lock, so nothing else moved them).
   */
  async balanceFellInTransaction(manager: EntityManager, input: BalanceFellInput): Promise<void> {
    if (!input.by.gt(0)) return;
    const [row] = await namedRows<SettingsRow>(manager, BALANCE_SETTINGS, [input.organizationId]);
    if (!row || (row.low_balance_threshold === null && row.auto_refill_credits === null)) return;
    const after = await input.after();
    await this.judgeFall(manager, row, { organizationId: input.organizationId, before: after.plus(input.by), after, at: input.at });
  }

  /** A fall from at or above a threshold to below it: one LOW_BALANCE alert and/or one auto-refill job. */
  private async judgeFall(manager: EntityManager, row: SettingsRow, input: BalanceChangedInput): Promise<void> {
    const low = decimalOrNull(row.low_balance_threshold);
    if (crossedBelow(input.before, input.after, low)) {
      const threshold = formatAmount(low!, CREDIT_SCALE);
      const left = formatAmount(input.after, CREDIT_SCALE);
      await this.insert(
        manager,
        {
          organizationId: input.organizationId,
          kind: AlertKind.LOW_BALANCE,
          message: `Your available credits fell below ${threshold}: ${left} left.`,
          data: { threshold, before: formatAmount(input.before, CREDIT_SCALE), after: left },
          at: input.at,
        },
        row.webhook_url,
      );
    }
    const refillAt = decimalOrNull(row.auto_refill_threshold);
    if (row.auto_refill_credits !== null && crossedBelow(input.before, input.after, refillAt)) {
      // The job carries the settings of this crossing, so a retry repeats the same purchase. One
      // pending job per buyer (partial unique index): a refill already waiting is not doubled.
      await manager.query(
        `INSERT INTO auto_refill_jobs (id, organization_id, status, credits, max_unit_price, created_at)
         VALUES ($1, $2, 'PENDING', $3, $4, $5)
         ON CONFLICT (organization_id) WHERE status = 'PENDING' DO NOTHING`,
        [newId(), input.organizationId, row.auto_refill_credits, row.auto_refill_max_unit_price, input.at],
      );
    }
  }

  /** An organization's alerts, newest first (business time, then insertion order). */
  async list(organizationId: string, take: number): Promise<AlertEntity[]> {
    return this.dataSource.manager.find(AlertEntity, {
      where: { organizationId },
      order: { createdAt: 'DESC', seq: 'DESC' },
      take,
    });
  }

  private async insert(manager: EntityManager, input: EmitAlertInput, webhookUrl: string | null): Promise<void> {
    if (!ALERT_KINDS.includes(input.kind)) throw new Error(`unknown alert kind ${String(input.kind)}`);
    if (!input.message) throw new Error('an alert needs a message');
    // An over-long message is cut rather than failing the use case that caused the alert.
    const message = input.message.slice(0, MAX_MESSAGE_LENGTH);
    const alertId = newId();
    const data = input.data ?? {};
    await manager.query(`INSERT INTO alerts (id, organization_id, kind, message, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
      alertId,
      input.organizationId,
      input.kind,
      message,
      JSON.stringify(data),
      input.at,
    ]);
    if (!webhookUrl) return;
    const deliveryId = newId();
    const createdAt = input.at.toISOString();
    const payload = {
      id: deliveryId,
      type: input.kind,
      createdAt,
      data: { id: alertId, organizationId: input.organizationId, kind: input.kind, message, data, createdAt },
    };
    // next_attempt_at defaults to now(): due at once (wall time, see WebhookDispatcher).
    await manager.query(`INSERT INTO webhook_deliveries (id, alert_id, organization_id, url, payload) VALUES ($1, $2, $3, $4, $5)`, [
      deliveryId,
      alertId,
      input.organizationId,
      webhookUrl,
      JSON.stringify(payload),
    ]);
  }
}
