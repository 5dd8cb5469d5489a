import { Field, ID, InputType, ObjectType } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { CreditType } from '../../credits/index.js';
import { CreditBlockModel } from '../../credits/index.js';
import type { PurchaseEntity } from '../purchase.entity.js';

@ObjectType('Purchase')
export class PurchaseModel {
  @Field(() => ID)
  id: string;

  @Field(() => CreditType)
  type: CreditType;

  @Field(() => DecimalScalar)
  credits: string;

  @Field(() => DecimalScalar)
  unitPrice: string;

  @Field(() => DecimalScalar)
  totalPrice: string;

  @Field(() => CreditBlockModel)
  block: CreditBlockModel;

  @Field(() => Date)
  createdAt: Date;
}

@InputType()
export class PurchaseCreditsInput {
  @Field(() => DecimalScalar, { description: 'Credits to buy, at most 6 decimals.' })
  credits: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'Refuse (PRICE_LIMIT_EXCEEDED) above this unit price.' })
  maxUnitPrice?: string | null;

  @Field({ description: 'Same key and same request: the original purchase back, charged once.' })
  idempotencyKey: string;
}

export function toPurchaseModel(p: PurchaseEntity, block: CreditBlockModel): PurchaseModel {
  return {
    id: p.id,
    type: CreditType.STANDARD,
    credits: formatAmount(p.credits, 6),
    unitPrice: formatAmount(p.unitPrice, 6),
    totalPrice: formatAmount(p.totalPrice, 2),
    block,
    createdAt: p.createdAt,
  };
}
