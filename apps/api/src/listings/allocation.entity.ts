import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { AllocationPurpose } from './domain/allocation-purpose.js';

/** Capacity taken from one listing for one purchase, reservation or facility. */
@Entity('allocations')
export class AllocationEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'listing_id' })
  listingId: string;

  @Column('text')
  purpose: AllocationPurpose;

  @Column('uuid', { name: 'purpose_id' })
  purposeId: string;

  @Column('numeric', { transformer: numericTransformer })
  credits: Decimal;

  /** Delivered to a credit block (and paid to the seller). */
  @Column('numeric', { transformer: numericTransformer })
  delivered: Decimal;

  /** Given back to the market (a cancelled reservation). */
  @Column('numeric', { transformer: numericTransformer })
  released: Decimal;

  @Column('numeric', { name: 'wholesale_cost_per_credit', transformer: numericTransformer })
  wholesaleCostPerCredit: Decimal;

  /** The reservation month (0-based) this capacity is delivered in (SPEC §6); null otherwise. */
  @Column('integer', { nullable: true })
  month: number | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
