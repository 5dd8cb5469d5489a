import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { PayoutStatus } from './domain/payout-rules.js';

@Entity('payouts')
export class PayoutEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** Insertion order (database identity): orders payouts made at the same instant. */
  @Column({ type: 'bigint', insert: false, update: false })
  seq: string;

  @Column('uuid', { name: 'organization_id' })
  organizationId: string;

  @Column('text', { name: 'idempotency_key' })
  idempotencyKey: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('numeric', { transformer: numericTransformer })
  amount: Decimal;

  @Column('text')
  status: PayoutStatus;

  @Column('text', { nullable: true })
  reference: string | null;

  @Column('text', { nullable: true })
  reason: string | null;

  @Column('bigint', { name: 'ledger_transaction_id' })
  ledgerTransactionId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'resolved_at', nullable: true })
  resolvedAt: Date | null;
}
