import { Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { UsageHoldStatus } from '../domain/usage-hold.js';
import { UsageGroupBy } from '../domain/usage-report.js';

registerEnumType(UsageGroupBy, { name: 'UsageGroupBy' });
registerEnumType(UsageHoldStatus, { name: 'UsageHoldStatus' });

@ObjectType('UsageRecord')
export class UsageRecordModel {
  @Field()
  eventId: string;

  @Field(() => DecimalScalar)
  credits: string;

  @Field({ description: 'True when this eventId was already charged: the first result, not charged again.' })
  duplicate: boolean;
}

@ObjectType('UsageHold')
export class UsageHoldModel {
  @Field(() => ID)
  id: string;

  @Field(() => DecimalScalar)
  credits: string;

  @Field(() => UsageHoldStatus)
  status: UsageHoldStatus;

  @Field(() => Date)
  expiresAt: Date;
}

@ObjectType('UsageReportRow')
export class UsageReportRowModel {
  @Field({ description: 'A UTC day (YYYY-MM-DD) or a model id ("gpu:<type>" for GPU time).' })
  key: string;

  @Field(() => Int)
  events: number;

  @Field(() => DecimalScalar)
  credits: string;
}

/** What a call used: a model's tokens, or GPU time of a type (exactly one of the two). */
@InputType({ isAbstract: true })
abstract class UsageQuantityInput {
  @Field({ nullable: true })
  model?: string;

  @Field(() => Int, { nullable: true })
  inputTokens?: number;

  @Field(() => Int, { nullable: true })
  outputTokens?: number;

  @Field({ nullable: true })
  gpuType?: string;

  @Field(() => DecimalScalar, { nullable: true })
  gpuSeconds?: string;
}

@InputType()
export class RecordUsageInput extends UsageQuantityInput {
  @Field(() => ID)
  organizationId: string;

  @Field()
  eventId: string;

  @Field(() => Date, { nullable: true, description: 'When the call happened (reports); defaults to now.' })
  occurredAt?: Date;
}

@InputType()
export class AuthorizeUsageInput {
  @Field(() => ID)
  organizationId: string;

  @Field()
  eventId: string;

  @Field(() => DecimalScalar)
  credits: string;
}

@InputType()
export class CaptureUsageInput extends UsageQuantityInput {
  @Field(() => ID)
  holdId: string;
}

@InputType()
export class UsageReportInput {
  @Field(() => Date)
  from: Date;

  @Field(() => Date)
  to: Date;

  @Field(() => UsageGroupBy)
  groupBy: UsageGroupBy;
}
