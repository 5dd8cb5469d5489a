import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { FinancingRequestStatus } from './domain/financing-request-rules.js';

@Entity('financing_requests')
export class FinancingRequestEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** Insertion order (database identity): orders requests made at the same instant. */
  @Column({ type: 'bigint', insert: false, update: false })
  seq: string;

  @Column('uuid', { name: 'borrower_id' })
  borrowerId: string;

  @Column('numeric', { transformer: numericTransformer })
  amount: Decimal;

  @Column('integer', { name: 'term_months' })
  termMonths: number;

  @Column('text')
  purpose: string;

  @Column('text')
  status: FinancingRequestStatus;

  @Column('uuid', { name: 'funded_by_facility_id', nullable: true })
  fundedByFacilityId: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'closed_at', nullable: true })
  closedAt: Date | null;
}
