import { Field, InputType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';

@InputType()
export class CreateApiKeyInput {
  @Field({ description: '1 to 100 characters, e.g. "production" or "ci"; names need not be unique.' })
  name: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'Credits per UTC calendar month, > 0, at most 6 decimals; null or absent: no limit of its own.' })
  monthlyCreditLimit?: string | null;
}
