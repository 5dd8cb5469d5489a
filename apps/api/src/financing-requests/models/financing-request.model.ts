import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { OrganizationModel } from '../../organizations/index.js';
import { FinancingRequestStatus } from '../domain/financing-request-rules.js';

registerEnumType(FinancingRequestStatus, { name: 'FinancingRequestStatus' });

@ObjectType('BorrowerProfile', { description: "Built from CCX's own records of the borrower; nothing else about it is shown to lenders." })
export class BorrowerProfileModel {
  @Field(() => Date)
  memberSince: Date;

  @Field(() => DecimalScalar, { description: 'Credits bought with its own money (standard purchases and reservation deliveries).' })
  creditsPurchased: string;

  @Field(() => DecimalScalar, { description: 'Credits charged for its usage in the 90 days before now.' })
  creditsUsedLast90Days: string;

  @Field(() => Int, { description: 'Facilities repaid in full without ever defaulting.' })
  facilitiesRepaid: number;

  @Field(() => Int, { description: 'Facilities that reached DEFAULTED, whatever happened next.' })
  facilitiesDefaulted: number;
}

@ObjectType('FinancingRequest')
export class FinancingRequestModel {
  @Field(() => ID)
  id: string;

  /** Resolved by the resolver (DataLoader). */
  borrowerId: string;

  @Field(() => DecimalScalar)
  amount: string;

  @Field(() => Int)
  termMonths: number;

  @Field()
  purpose: string;

  @Field(() => FinancingRequestStatus)
  status: FinancingRequestStatus;

  @Field(() => Date)
  createdAt: Date;

  @Field(() => OrganizationModel)
  borrower?: OrganizationModel;

  @Field(() => BorrowerProfileModel)
  borrowerProfile?: BorrowerProfileModel;
}
