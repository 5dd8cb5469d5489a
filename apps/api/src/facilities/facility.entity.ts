import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { FacilityStatus } from './domain/facility-status.js';

@Entity('facilities')
export class FacilityEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'lender_id' })
  lenderId: string;

  @Column('uuid', { name: 'borrower_id' })
  borrowerId: string;

  @Column('numeric', { transformer: numericTransformer })
  principal: Decimal;

  @Column('numeric', { transformer: numericTransformer })
  apr: Decimal;

  @Column('integer', { name: 'term_months' })
  termMonths: number;

  @Column('integer', { name: 'grace_days' })
  graceDays: number;

  @Column('integer', { name: 'default_after_days_past_due' })
  defaultAfterDaysPastDue: number;

  @Column('numeric', { name: 'recovery_rate', transformer: numericTransformer })
  recoveryRate: Decimal;

  @Column('numeric', { name: 'financing_fee', transformer: numericTransformer })
  financingFee: Decimal;

  @Column('numeric', { name: 'disclosed_apr', transformer: numericTransformer })
  disclosedApr: Decimal;

  @Column('numeric', { name: 'total_interest', transformer: numericTransformer })
  totalInterest: Decimal;

  @Column('text')
  status: FacilityStatus;

  @Column('boolean', { name: 'default_sticky' })
  defaultSticky: boolean;

  @Column('timestamptz', { name: 'accepted_at', nullable: true })
  acceptedAt: Date | null;

  @Column('timestamptz', { name: 'maturity_at', nullable: true })
  maturityAt: Date | null;

  @Column('timestamptz', { name: 'defaulted_at', nullable: true })
  defaultedAt: Date | null;

  @Column('uuid', { name: 'block_id', nullable: true })
  blockId: string | null;

  @Column('numeric', { name: 'credits_granted', nullable: true, transformer: numericTransformer })
  creditsGranted: Decimal | null;

  /** principal − financing fee: what bought the credits at wholesale. */
  @Column('numeric', { name: 'purchase_amount', nullable: true, transformer: numericTransformer })
  purchaseAmount: Decimal | null;

  @Column('bigint', { name: 'debt_account_id', nullable: true })
  debtAccountId: string | null;

  @Column('bigint', { name: 'receivable_account_id', nullable: true })
  receivableAccountId: string | null;

  @Column('numeric', { name: 'recovered_amount', transformer: numericTransformer })
  recoveredAmount: Decimal;

  @Column('numeric', { name: 'charged_off_amount', transformer: numericTransformer })
  chargedOffAmount: Decimal;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
