import { Field, ID, InputType, Int, ObjectType } from '@nestjs/graphql';
import type { Decimal } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import type { GpuTypeEntity } from '../gpu-type.entity.js';
import type { ModelEntity } from '../model.entity.js';

@ObjectType('GpuType')
export class GpuTypeModel {
  @Field()
  name: string;

  @Field(() => DecimalScalar, { description: 'Credits one GPU-hour of this type is worth (H100 = 1).' })
  creditsPerGpuHour: Decimal;
}

@ObjectType('Model')
export class RateCardModel {
  @Field(() => ID)
  id: string;

  @Field(() => DecimalScalar)
  inputCreditsPerMillionTokens: Decimal;

  @Field(() => DecimalScalar)
  outputCreditsPerMillionTokens: Decimal;

  @Field(() => Int, { description: 'Used for the credit hold when a request sets no max_tokens (default 4096).' })
  maxOutputTokens: number;
}

@InputType()
export class GpuTypeInput {
  @Field()
  name: string;

  @Field(() => DecimalScalar)
  creditsPerGpuHour: string;
}

@InputType()
export class ModelInput {
  @Field(() => ID)
  id: string;

  @Field(() => DecimalScalar)
  inputCreditsPerMillionTokens: string;

  @Field(() => DecimalScalar)
  outputCreditsPerMillionTokens: string;

  @Field(() => Int, { nullable: true, description: 'Defaults to 4096 for a new model; unchanged when omitted.' })
  maxOutputTokens?: number | null;
}

export const toGpuTypeModel = (e: GpuTypeEntity): GpuTypeModel => ({ name: e.name, creditsPerGpuHour: e.creditsPerGpuHour });
export const toRateCardModel = (e: ModelEntity): RateCardModel => ({
  id: e.id,
  inputCreditsPerMillionTokens: e.inputCreditsPerMillionTokens,
  outputCreditsPerMillionTokens: e.outputCreditsPerMillionTokens,
  maxOutputTokens: e.maxOutputTokens,
});
