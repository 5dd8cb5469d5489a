import { Field, ID, Int, ObjectType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { PageInfo } from '../../graphql/page-info.js';

@ObjectType('WalletEntry', { description: 'One movement of a USD wallet, from the ledger.' })
export class WalletEntryModel {
  @Field(() => ID, { description: 'The ledger entry id.' })
  id: string;

  @Field({
    description:
      'deposit, purchase, reservation_delivery, termination_fee, sale_proceeds, overflow_earnings, facility_funding, financing_fee, repayment, recovery, surplus, payout or payout_returned.',
  })
  kind: string;

  @Field(() => DecimalScalar, { description: 'Signed: positive into the wallet, negative out of it.' })
  amount: string;

  @Field(() => DecimalScalar, { description: "The wallet's posted balance right after this entry." })
  balanceAfter: string;

  @Field(() => String, { nullable: true, description: 'The business object it belongs to, e.g. "purchase:<id>" or "facility:<id>".' })
  reference: string | null;

  @Field(() => Date, { description: 'When it took effect (business time, UTC).' })
  createdAt: Date;
}

@ObjectType('WalletEntryEdge')
export class WalletEntryEdge {
  @Field()
  cursor: string;

  @Field(() => WalletEntryModel)
  node: WalletEntryModel;
}

@ObjectType('WalletEntryConnection')
export class WalletEntryConnection {
  @Field(() => [WalletEntryEdge])
  edges: WalletEntryEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;

  @Field(() => Int)
  totalCount: number;
}

@ObjectType('Statement')
export class StatementModel {
  @Field({ description: 'YYYY-MM, a calendar month in UTC.' })
  month: string;

  @Field(() => DecimalScalar, { description: "The wallet's posted balance at the start of the month." })
  openingBalance: string;

  @Field(() => DecimalScalar, { description: 'The posted balance at the end of the month: opening + the entries.' })
  closingBalance: string;

  @Field(() => [WalletEntryModel], { description: 'Every entry of the month, oldest first.' })
  entries: WalletEntryModel[];
}
