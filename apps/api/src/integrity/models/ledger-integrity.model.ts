import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType()
export class LedgerIntegrity {
  @Field({ description: 'True when every invariant of SPEC §10 holds.' })
  balanced: boolean;

  @Field(() => Int)
  accountsChecked: number;

  @Field(() => Int)
  transactionsChecked: number;

  @Field(() => [String], { description: 'What is wrong, when something is (empty when balanced).' })
  problems: string[];
}
