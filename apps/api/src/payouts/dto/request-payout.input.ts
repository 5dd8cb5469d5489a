import { Field, InputType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';

@InputType('RequestPayoutInput')
export class RequestPayoutInput {
  @Field(() => DecimalScalar, { description: 'USD, more than 0, at most 2 decimals; it leaves the wallet at once.' })
  amount: string;

  @Field({ description: 'The same key returns the same payout; with another amount it is IDEMPOTENCY_CONFLICT.' })
  idempotencyKey: string;
}
