import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

export type AutoRefillStatus = 'PENDING' | 'DONE' | 'FAILED';

/** The auto-refill outbox: one row per downward crossing of the auto-refill threshold. */
@Entity('auto_refill_jobs')
export class AutoRefillJobEntity {
  /** Also the purchase's idempotency key (`auto-refill:<id>`), so a crash mid-job buys once. */
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'organization_id' })
  organizationId: string;

  @Column('text')
  status: AutoRefillStatus;

  /** The settings when the threshold was crossed: a retried job repeats the same request. */
  @Column('numeric', { transformer: numericTransformer })
  credits: Decimal;

  @Column('numeric', { name: 'max_unit_price', nullable: true, transformer: numericTransformer })
  maxUnitPrice: Decimal | null;

  /** Runs that ended in an unexpected (non-domain) error; bounded, see AutoRefillWorker. */
  @Column('int')
  attempts: number;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'processed_at', nullable: true })
  processedAt: Date | null;

  @Column('jsonb', { nullable: true })
  result: Record<string, unknown> | null;
}
