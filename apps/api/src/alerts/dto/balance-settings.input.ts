import { Field, InputType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';

/** A field left out keeps its value; an explicit null clears it. */
@InputType()
export class BalanceSettingsInput {
  @Field(() => DecimalScalar, { nullable: true, description: 'Credits, at most 6 decimals, ≥ 0.' })
  lowBalanceThreshold?: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'Credits, at most 6 decimals, ≥ 0; set together with autoRefillCredits.' })
  autoRefillThreshold?: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'Credits to buy, at most 6 decimals, > 0.' })
  autoRefillCredits?: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'USD per credit, at most 6 decimals, > 0.' })
  autoRefillMaxUnitPrice?: string | null;

  @Field(() => String, { nullable: true, description: 'An http(s) URL of at most 2048 characters; setting or changing it issues a new signing secret.' })
  webhookUrl?: string | null;
}
