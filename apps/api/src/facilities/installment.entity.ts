import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

@Entity('installments')
export class InstallmentEntity {
  @PrimaryColumn('uuid', { name: 'facility_id' })
  facilityId: string;

  @PrimaryColumn('integer')
  number: number;

  @Column('timestamptz', { name: 'due_date' })
  dueDate: Date;

  @Column('numeric', { transformer: numericTransformer })
  payment: Decimal;

  @Column('numeric', { transformer: numericTransformer })
  principal: Decimal;

  @Column('numeric', { transformer: numericTransformer })
  interest: Decimal;

  @Column('numeric', { name: 'principal_paid', transformer: numericTransformer })
  principalPaid: Decimal;

  @Column('numeric', { name: 'interest_paid', transformer: numericTransformer })
  interestPaid: Decimal;
}
