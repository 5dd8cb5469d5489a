import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { CreditBlockStatus } from './domain/credit-block-status.js';
import type { CreditType } from './domain/credit-type.js';


/**
 * A purchase or grant of credits (SPEC §6). `remaining` is not stored: it is the balance of the
 * block's own ledger account, so it can never drift from the ledger.
 */
@Entity('credit_blocks')
export class CreditBlockEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'organization_id' })
  organizationId: string;

  @Column('text')
  type: CreditType;

  @Column('text')
  status: CreditBlockStatus;

  @Column('numeric', { transformer: numericTransformer })
  granted: Decimal;

  /** The buyer's cost basis per credit. */
  @Column('numeric', { name: 'unit_price', transformer: numericTransformer })
  unitPrice: Decimal;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  @Column('uuid', { name: 'facility_id', nullable: true })
  facilityId: string | null;

  @Column('uuid', { name: 'purchase_id', nullable: true })
  purchaseId: string | null;

  @Column('uuid', { name: 'reservation_id', nullable: true })
  reservationId: string | null;

  @Column('bigint', { name: 'ledger_account_id' })
  ledgerAccountId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
