import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';
import type { ReservationStatus } from './domain/reservation-status.js';

@Entity('reservations')
export class ReservationEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('text', { name: 'idempotency_key' })
  idempotencyKey: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('numeric', { name: 'credits_per_month', transformer: numericTransformer })
  creditsPerMonth: Decimal;

  @Column('integer', { name: 'term_months' })
  termMonths: number;

  @Column('numeric', { name: 'unit_price', transformer: numericTransformer })
  unitPrice: Decimal;

  @Column('numeric', { name: 'discount_rate', transformer: numericTransformer })
  discountRate: Decimal;

  @Column('integer', { name: 'months_delivered' })
  monthsDelivered: number;

  @Column('text')
  status: ReservationStatus;

  /** The reservation instant: deliveries fall on its day of month (clamped). */
  @Column('timestamptz', { name: 'anchor_at' })
  anchorAt: Date;

  @Column('timestamptz', { name: 'next_delivery_at', nullable: true })
  nextDeliveryAt: Date | null;

  @Column('numeric', { name: 'early_termination_fee', nullable: true, transformer: numericTransformer })
  earlyTerminationFee: Decimal | null;

  /** Holds the allocated, undelivered credits. */
  @Column('bigint', { name: 'ledger_account_id' })
  ledgerAccountId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'cancelled_at', nullable: true })
  cancelledAt: Date | null;
}
