import { Field, ID, InputType, ObjectType } from '@nestjs/graphql';
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
}

export const toGpuTypeModel = (e: GpuTypeEntity): GpuTypeModel => ({ name: e.name, creditsPerGpuHour: e.creditsPerGpuHour });
export const toRateCardModel = (e: ModelEntity): RateCardModel => ({
  id: e.id,
  inputCreditsPerMillionTokens: e.inputCreditsPerMillionTokens,
  outputCreditsPerMillionTokens: e.outputCreditsPerMillionTokens,
});
