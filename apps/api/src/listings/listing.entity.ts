import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { ListingStatus } from './domain/listing-status.js';

@Entity('listings')
export class ListingEntity {
  @PrimaryColumn('uuid')
  id: string;

  /** Creation order (database-assigned): breaks ties between listings created at the same instant. */
  @Column({ type: 'bigint', insert: false, update: false })
  seq: string;

  @Column('uuid', { name: 'seller_id' })
  sellerId: string;

  @Column('text', { name: 'gpu_type' })
  gpuType: string;

  @Column('text')
  region: string;

  @Column('numeric', { name: 'gpu_hours', transformer: numericTransformer })
  gpuHours: Decimal;

  @Column('numeric', { name: 'wholesale_price_per_gpu_hour', transformer: numericTransformer })
  wholesalePricePerGpuHour: Decimal;

  @Column('numeric', { name: 'credits_per_gpu_hour', transformer: numericTransformer })
  creditsPerGpuHour: Decimal;

  @Column('numeric', { name: 'total_credits', transformer: numericTransformer })
  totalCredits: Decimal;

  @Column('numeric', { name: 'wholesale_cost_per_credit', transformer: numericTransformer })
  wholesaleCostPerCredit: Decimal;

  @Column('numeric', { name: 'allocated_credits', transformer: numericTransformer })
  allocatedCredits: Decimal;

  /** Taken off the market unallocated: by a withdrawal or by expiry. */
  @Column('numeric', { name: 'withdrawn_credits', transformer: numericTransformer })
  withdrawnCredits: Decimal;

  @Column('timestamptz', { name: 'available_from' })
  availableFrom: Date;

  @Column('timestamptz', { name: 'available_until' })
  availableUntil: Date;

  @Column('text')
  status: ListingStatus;

  @Column('bigint', { name: 'ledger_account_id' })
  ledgerAccountId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'withdrawn_at', nullable: true })
  withdrawnAt: Date | null;
}

/** Unallocated credits still on the market (equals the listing's ledger balance). */
export function availableCredits(listing: ListingEntity): Decimal {
  return listing.totalCredits.minus(listing.allocatedCredits).minus(listing.withdrawnCredits);
}

/**
 * The status at `now` (SPEC §4): past `availableUntil` a listing is EXPIRED, sold out or not —
 * time decides, as it does for utilization and the market figures. Servicing stores EXPIRED, but a
 * listing whose window closed since the last run is shown — and treated — as EXPIRED already. Only
 * a withdrawal (the seller's act, before the window closed) is kept as it is.
 */
export function effectiveStatus(listing: ListingEntity, now: Date): ListingStatus {
  if (onMarket(listing.status) && listing.availableUntil.getTime() <= now.getTime()) return 'EXPIRED';
  return listing.status;
}

/** OPEN or SOLD_OUT: the stored statuses that time turns into EXPIRED. */
export function onMarket(status: ListingStatus): boolean {
  return status === 'OPEN' || status === 'SOLD_OUT';
}
