import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { formatAmount, type Decimal } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import type { CreditBlockEntity } from '../credit-block.entity.js';
import { CreditBlockStatus } from '../domain/credit-block-status.js';
import { CreditType } from '../domain/credit-type.js';

registerEnumType(CreditType, { name: 'CreditType' });
registerEnumType(CreditBlockStatus, { name: 'CreditBlockStatus' });

@ObjectType('CreditBlock')
export class CreditBlockModel {
  @Field(() => ID)
  id: string;

  @Field(() => CreditType)
  type: CreditType;

  @Field(() => CreditBlockStatus)
  status: CreditBlockStatus;

  @Field(() => DecimalScalar)
  granted: string;

  @Field(() => DecimalScalar, { description: "The block's ledger balance." })
  remaining: string;

  @Field(() => DecimalScalar, { description: 'Reserved by open usage holds.' })
  held: string;

  @Field(() => DecimalScalar, { description: "The buyer's cost basis per credit." })
  unitPrice: string;

  @Field(() => Date, { nullable: true })
  expiresAt: Date | null;

  @Field(() => ID, { nullable: true })
  facilityId: string | null;

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType('CreditBalance')
export class CreditBalanceModel {
  @Field(() => DecimalScalar, { description: 'Remaining of ACTIVE blocks − open holds.' })
  available: string;

  @Field(() => DecimalScalar)
  held: string;

  @Field(() => DecimalScalar, { description: 'Remaining of FROZEN blocks.' })
  frozen: string;

  @Field(() => [CreditBlockModel])
  blocks: CreditBlockModel[];
}

export function toCreditBlockModel(b: CreditBlockEntity, remaining: Decimal, held: Decimal): CreditBlockModel {
  return {
    id: b.id,
    type: b.type,
    status: b.status,
    granted: formatAmount(b.granted, 6),
    remaining: formatAmount(remaining, 6),
    held: formatAmount(held, 6),
    unitPrice: formatAmount(b.unitPrice, 6),
    expiresAt: b.expiresAt,
    facilityId: b.facilityId,
    createdAt: b.createdAt,
  };
}
