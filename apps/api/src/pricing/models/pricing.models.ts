import { Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { CreditType } from '../../credits/index.js';

@ObjectType('MarketStats')
export class MarketStatsModel {
  @Field(() => DecimalScalar, { description: 'Credits of OPEN and SOLD_OUT listings.' })
  totalCredits: string;

  @Field(() => DecimalScalar)
  allocatedCredits: string;

  @Field(() => DecimalScalar, { description: 'allocated ÷ total, 6 decimals.' })
  utilization: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'Standard unit price of one credit now; null when nothing is open.' })
  standardPricePerCredit: string | null;
}

@ObjectType('Quote')
export class QuoteModel {
  @Field(() => CreditType)
  type: CreditType;

  @Field(() => DecimalScalar)
  credits: string;

  @Field(() => DecimalScalar)
  unitPrice: string;

  @Field(() => DecimalScalar)
  totalPrice: string;

  @Field(() => DecimalScalar, { description: 'Wholesale cost of the cheapest fill, cents.' })
  wholesaleCost: string;

  @Field(() => DecimalScalar)
  discountRate: string;
}

@InputType()
export class QuoteInput {
  @Field(() => CreditType)
  type: CreditType;

  @Field(() => DecimalScalar, { description: 'For RESERVED: the whole commitment, creditsPerMonth × termMonths.' })
  credits: string;

  @Field(() => Int, { nullable: true, description: 'Required for RESERVED.' })
  termMonths?: number | null;
}
