import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

@Entity('recoveries')
export class RecoveryEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'facility_id' })
  facilityId: string;

  @Column('numeric', { name: 'credits_recovered', transformer: numericTransformer })
  creditsRecovered: Decimal;

  @Column('numeric', { name: 'amount_recovered', transformer: numericTransformer })
  amountRecovered: Decimal;

  @Column('numeric', { name: 'interest_recovered', transformer: numericTransformer })
  interestRecovered: Decimal;

  @Column('numeric', { name: 'principal_recovered', transformer: numericTransformer })
  principalRecovered: Decimal;

  @Column('numeric', { transformer: numericTransformer })
  surplus: Decimal;

  @Column('numeric', { name: 'cancelled_interest', transformer: numericTransformer })
  cancelledInterest: Decimal;

  @Column('numeric', { name: 'charged_off_amount', transformer: numericTransformer })
  chargedOffAmount: Decimal;

  @Column('bigint', { name: 'ledger_transaction_id', nullable: true })
  ledgerTransactionId: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
