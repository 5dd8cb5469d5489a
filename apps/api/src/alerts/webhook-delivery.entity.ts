import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The webhook outbox: one row per alert of an organization with a webhook URL, written in the
 * alert's transaction. All times here are real wall time (delivery is I/O, not business time).
 */
@Entity('webhook_deliveries')
export class WebhookDeliveryEntity {
  /** Sent as the payload `id` and the `CCX-Webhook-Id` header: what receivers dedupe on. */
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'alert_id' })
  alertId: string;

  @Column('uuid', { name: 'organization_id' })
  organizationId: string;

  /** The URL of the latest attempt (pending deliveries follow the organization's current URL). */
  @Column('text')
  url: string;

  @Column('jsonb')
  payload: Record<string, unknown>;

  @Column('int')
  attempts: number;

  /** When the next attempt is due; null once delivered or given up. */
  @Column('timestamptz', { name: 'next_attempt_at', nullable: true })
  nextAttemptAt: Date | null;

  @Column('timestamptz', { name: 'last_attempt_at', nullable: true })
  lastAttemptAt: Date | null;

  @Column('timestamptz', { name: 'delivered_at', nullable: true })
  deliveredAt: Date | null;

  @Column('timestamptz', { name: 'failed_at', nullable: true })
  failedAt: Date | null;

  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
