import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericTransformer, type Decimal } from '@ccx/core';

@Entity('purchases')
export class PurchaseEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'buyer_id' })
  buyerId: string;

  @Column('text', { name: 'idempotency_key' })
  idempotencyKey: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('numeric', { transformer: numericTransformer })
  credits: Decimal;

  @Column('numeric', { name: 'unit_price', transformer: numericTransformer })
  unitPrice: Decimal;

  @Column('numeric', { name: 'total_price', transformer: numericTransformer })
  totalPrice: Decimal;

  @Column('numeric', { name: 'wholesale_cost', transformer: numericTransformer })
  wholesaleCost: Decimal;

  @Column('uuid', { name: 'block_id' })
  blockId: string;

  @Column('bigint', { name: 'ledger_transaction_id' })
  ledgerTransactionId: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
