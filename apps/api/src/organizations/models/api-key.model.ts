import { Field, ID, ObjectType } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { CREDIT_SCALE } from '../../common/amounts.js';
import type { ApiKeyView } from '../api-keys.service.js';

@ObjectType('ApiKey', { description: "One of an organization's API keys; the secret itself is shown only when it is created." })
export class ApiKeyModel {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field({ description: 'The last 4 characters of the secret; "" for a key issued before keys had names (only its hash was kept).' })
  lastFour: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'Credits the gateway lets this key spend per UTC calendar month; null: no limit of its own.' })
  monthlyCreditLimit: string | null;

  @Field(() => DecimalScalar, { description: 'Credits charged through this key in the current UTC calendar month.' })
  creditsUsedThisMonth: string;

  @Field(() => Date, { nullable: true, description: 'When the key last authenticated a request (updated at most once a minute).' })
  lastUsedAt: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;

  @Field(() => Date)
  createdAt: Date;
}

/** Credits carry 6 decimals in the API, as everywhere else ("250.000000"). */
export function toApiKeyModel(key: ApiKeyView): ApiKeyModel {
  return {
    id: key.id,
    name: key.name,
    lastFour: key.lastFour ?? '',
    monthlyCreditLimit: key.monthlyCreditLimit === null ? null : formatAmount(key.monthlyCreditLimit, CREDIT_SCALE),
    creditsUsedThisMonth: formatAmount(key.creditsUsedThisMonth, CREDIT_SCALE),
    lastUsedAt: key.lastUsedAt,
    revokedAt: key.revokedAt,
    createdAt: key.createdAt,
  };
}
