import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType('Wallet')
export class WalletModel {
  @Field()
  currency: string;

  @Field(() => DecimalScalar, { description: 'What can be spent now (posted − held).' })
  available: string;

  @Field(() => DecimalScalar, { description: 'Reserved by pending operations.' })
  held: string;
}
