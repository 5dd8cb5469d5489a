import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { Field, ID, InputType } from '@nestjs/graphql';

@InputType()
export class RecordDepositInput {
  @Field(() => ID)
  organizationId: string;

  @Field(() => DecimalScalar, { description: 'USD, at most 2 decimals.' })
  amount: string;

  @Field({ description: 'The bank or card payment reference; the same reference is applied once.' })
  reference: string;
}
