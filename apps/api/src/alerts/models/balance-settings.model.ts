import { Field, ObjectType } from '@nestjs/graphql';
import { formatAmount, type Decimal } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { CREDIT_SCALE, PRICE_SCALE } from '../../common/amounts.js';
import type { BalanceSettingsEntity } from '../balance-settings.entity.js';

@ObjectType('BalanceSettings')
export class BalanceSettingsModel {
  @Field(() => DecimalScalar, { nullable: true, description: 'One LOW_BALANCE alert each time available credits fall below this.' })
  lowBalanceThreshold: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'Falling below this buys `autoRefillCredits` standard credits.' })
  autoRefillThreshold: string | null;

  @Field(() => DecimalScalar, { nullable: true })
  autoRefillCredits: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'An auto-refill above this unit price fails instead of buying.' })
  autoRefillMaxUnitPrice: string | null;

  @Field(() => String, { nullable: true })
  webhookUrl: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Shown once, by the update that set or changed webhookUrl: the key that signs `CCX-Signature`. Null on every read.',
  })
  webhookSecret: string | null;
}

const amount = (value: Decimal | null | undefined, scale: number) => (value ? formatAmount(value, scale) : null);

/** The settings as the API shows them; `webhookSecret` only when it was generated just now. */
export function toBalanceSettingsModel(s: BalanceSettingsEntity | null, newSecret: string | null = null): BalanceSettingsModel {
  return {
    lowBalanceThreshold: amount(s?.lowBalanceThreshold, CREDIT_SCALE),
    autoRefillThreshold: amount(s?.autoRefillThreshold, CREDIT_SCALE),
    autoRefillCredits: amount(s?.autoRefillCredits, CREDIT_SCALE),
    autoRefillMaxUnitPrice: amount(s?.autoRefillMaxUnitPrice, PRICE_SCALE),
    webhookUrl: s?.webhookUrl ?? null,
    webhookSecret: newSecret,
  };
}
