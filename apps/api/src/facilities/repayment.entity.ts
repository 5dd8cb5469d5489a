import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

@Entity('repayments')
export class RepaymentEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'facility_id' })
  facilityId: string;

  @Column('uuid', { name: 'borrower_id' })
  borrowerId: string;

  @Column('text', { name: 'idempotency_key' })
  idempotencyKey: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('numeric', { transformer: numericTransformer })
  amount: Decimal;

  @Column('numeric', { name: 'interest_paid', transformer: numericTransformer })
  interestPaid: Decimal;

  @Column('numeric', { name: 'principal_paid', transformer: numericTransformer })
  principalPaid: Decimal;

  /** How the amount was applied: [{number, interest, principal}] as decimal strings. */
  @Column('jsonb')
  lines: { number: number; interest: string; principal: string }[];

  @Column('bigint', { name: 'ledger_transaction_id' })
  ledgerTransactionId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
