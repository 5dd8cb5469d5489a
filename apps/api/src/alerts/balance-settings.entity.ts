import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

/** A buyer's alert and auto-refill settings (SPEC §8). No row means "nothing set". */
@Entity('balance_settings')
export class BalanceSettingsEntity {
  @PrimaryColumn('uuid', { name: 'organization_id' })
  organizationId: string;

  @Column('numeric', { name: 'low_balance_threshold', nullable: true, transformer: numericTransformer })
  lowBalanceThreshold: Decimal | null;

  @Column('numeric', { name: 'auto_refill_threshold', nullable: true, transformer: numericTransformer })
  autoRefillThreshold: Decimal | null;

  @Column('numeric', { name: 'auto_refill_credits', nullable: true, transformer: numericTransformer })
  autoRefillCredits: Decimal | null;

  @Column('numeric', { name: 'auto_refill_max_unit_price', nullable: true, transformer: numericTransformer })
  autoRefillMaxUnitPrice: Decimal | null;

  @Column('text', { name: 'webhook_url', nullable: true })
  webhookUrl: string | null;

  /**
   * The HMAC signing key, stored as is: signing needs the key itself, so unlike API keys it
   * cannot be kept as a hash. It is shown to the buyer once and never returned by a read.
   */
  @Column('text', { name: 'webhook_secret', nullable: true })
  webhookSecret: string | null;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
