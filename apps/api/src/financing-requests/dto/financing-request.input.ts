import { Field, InputType, Int } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';

@InputType('FinancingRequestInput')
export class FinancingRequestInput {
  @Field(() => DecimalScalar, { description: 'USD, more than 0, at most 2 decimals.' })
  amount: string;

  @Field(() => Int, { description: 'Within the facility rules: 1 to 360.' })
  termMonths: number;

  @Field({ description: 'What the financing is for: 1 to 500 characters. Shown to every ACTIVE lender.' })
  purpose: string;
}
