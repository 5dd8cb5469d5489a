import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { OrganizationModel } from '../../organizations/index.js';
import type { PayoutEntity } from '../payout.entity.js';
import { PayoutStatus } from '../domain/payout-rules.js';

registerEnumType(PayoutStatus, { name: 'PayoutStatus' });

@ObjectType('Payout', { description: 'Money out of a seller\'s or lender\'s wallet to its bank account.' })
export class PayoutModel {
  @Field(() => ID)
  id: string;

  /** Resolved by the resolver (DataLoader). */
  organizationId: string;

  @Field(() => OrganizationModel)
  organization?: OrganizationModel;

  @Field(() => DecimalScalar)
  amount: string;

  @Field(() => PayoutStatus)
  status: PayoutStatus;

  @Field(() => String, { nullable: true, description: 'The bank reference, once PAID.' })
  reference: string | null;

  @Field(() => String, { nullable: true, description: 'Why it was REJECTED.' })
  reason: string | null;

  @Field(() => Date)
  createdAt: Date;
}

export function toPayoutModel(p: PayoutEntity): PayoutModel {
  return {
    id: p.id,
    organizationId: p.organizationId,
    amount: formatAmount(p.amount, 2),
    status: p.status,
    reference: p.reference,
    reason: p.reason,
    createdAt: p.createdAt,
  };
}
