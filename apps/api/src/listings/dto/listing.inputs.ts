import { Field, InputType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { ListingStatus } from '../domain/listing-status.js';

@InputType()
export class CreateListingInput {
  @Field()
  gpuType: string;

  @Field()
  region: string;

  @Field(() => DecimalScalar, { description: 'GPU-hours offered, at most 2 decimals.' })
  gpuHours: string;

  @Field(() => DecimalScalar, { description: 'USD per GPU-hour, at most 6 decimals.' })
  wholesalePricePerGpuHour: string;

  @Field(() => Date)
  availableFrom: Date;

  @Field(() => Date)
  availableUntil: Date;
}

@InputType()
export class ListingFilter {
  @Field({ nullable: true })
  gpuType?: string;

  @Field({ nullable: true })
  region?: string;

  @Field(() => ListingStatus, { nullable: true })
  status?: ListingStatus;
}
