import { Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { CreditBlockModel } from '../../credits/index.js';
import { OrganizationModel } from '../../organizations/index.js';
import { FreezeAction } from '../../freeze/index.js';
import { FacilityStatus, InstallmentStatus } from '../domain/facility-status.js';

registerEnumType(FacilityStatus, { name: 'FacilityStatus' });
registerEnumType(InstallmentStatus, { name: 'InstallmentStatus' });
registerEnumType(FreezeAction, { name: 'FreezeAction' });

@ObjectType('Installment')
export class InstallmentModel {
  @Field(() => Int)
  number: number;

  @Field(() => Date)
  dueDate: Date;

  @Field(() => DecimalScalar)
  payment: string;

  @Field(() => DecimalScalar)
  principal: string;

  @Field(() => DecimalScalar)
  interest: string;

  @Field(() => DecimalScalar)
  principalPaid: string;

  @Field(() => DecimalScalar)
  interestPaid: string;

  @Field(() => InstallmentStatus)
  status: InstallmentStatus;
}

@ObjectType('FreezeEvent', { description: "The freeze controller's audit trail: who, when, why." })
export class FreezeEventModel {
  @Field(() => FreezeAction)
  action: FreezeAction;

  @Field(() => ID, { nullable: true, description: 'The organization that acted; null when the freeze controller did (default).' })
  actorId: string | null;

  @Field()
  reason: string;

  @Field(() => Date)
  at: Date;
}

@ObjectType('Facility')
export class FacilityModel {
  @Field(() => ID)
  id: string;

  lenderId: string;
  borrowerId: string;

  @Field(() => OrganizationModel)
  lender?: OrganizationModel;

  @Field(() => OrganizationModel)
  borrower?: OrganizationModel;

  @Field(() => DecimalScalar)
  principal: string;

  @Field(() => DecimalScalar)
  apr: string;

  @Field(() => Int)
  termMonths: number;

  @Field(() => Int)
  graceDays: number;

  @Field(() => Int)
  defaultAfterDaysPastDue: number;

  @Field(() => DecimalScalar)
  recoveryRate: string;

  @Field(() => FacilityStatus)
  status: FacilityStatus;

  @Field(() => DecimalScalar, { description: 'Kept by the platform at acceptance (2% of principal by default).' })
  financingFee: string;

  @Field(() => DecimalScalar, { description: 'Regulation Z (Appendix J, actuarial) APR with the fee as a prepaid finance charge.' })
  disclosedApr: string;

  @Field(() => DecimalScalar)
  totalInterest: string;

  @Field(() => DecimalScalar, { nullable: true })
  creditsGranted: string | null;

  @Field(() => CreditBlockModel, { nullable: true })
  creditBlock: CreditBlockModel | null;

  @Field(() => [InstallmentModel], { description: 'Before acceptance: the schedule if accepted now.' })
  schedule: InstallmentModel[];

  @Field(() => DecimalScalar)
  outstandingPrincipal: string;

  @Field(() => DecimalScalar)
  pastDueAmount: string;

  @Field(() => DecimalScalar, {
    description: 'What closes the facility today: past-due amounts, interest accrued so far, outstanding principal.',
  })
  payoffAmount: string;

  @Field(() => Int)
  daysPastDue: number;

  @Field()
  frozen: boolean;

  @Field(() => DecimalScalar)
  recoveredAmount: string;

  @Field(() => DecimalScalar)
  chargedOffAmount: string;

  @Field(() => Date, { nullable: true })
  acceptedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'The last due date.' })
  maturityAt: Date | null;

  @Field(() => [FreezeEventModel], { nullable: true, description: 'Freezes and unfreezes; shown to the lender and the operator.' })
  freezeEvents: FreezeEventModel[] | null;

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType('Repayment')
export class RepaymentModel {
  @Field(() => ID)
  id: string;

  @Field(() => DecimalScalar)
  amount: string;

  @Field(() => DecimalScalar)
  interestPaid: string;

  @Field(() => DecimalScalar)
  principalPaid: string;

  @Field(() => FacilityModel)
  facility: FacilityModel;

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType('Recovery')
export class RecoveryModel {
  @Field(() => ID)
  id: string;

  @Field(() => DecimalScalar)
  creditsRecovered: string;

  @Field(() => DecimalScalar, { description: 'Buy-back proceeds paid by the platform treasury.' })
  amountRecovered: string;

  @Field(() => DecimalScalar, { description: 'Proceeds beyond what was owed, returned to the borrower.' })
  surplus: string;

  @Field(() => DecimalScalar)
  chargedOffAmount: string;

  @Field(() => FacilityModel)
  facility: FacilityModel;
}

@InputType()
export class OfferFacilityInput {
  @Field(() => ID)
  borrowerId: string;

  @Field(() => DecimalScalar, { description: 'USD.' })
  principal: string;

  @Field(() => DecimalScalar, { description: 'A fraction: "0.18" is 18% a year.' })
  apr: string;

  @Field(() => Int)
  termMonths: number;

  @Field(() => Int, { nullable: true, description: 'Default 5.' })
  graceDays?: number | null;

  @Field(() => Int, { nullable: true, description: 'Default 30.' })
  defaultAfterDaysPastDue?: number | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'Default 0.80.' })
  recoveryRate?: string | null;

  @Field(() => ID, { nullable: true, description: "The OPEN financing request this offer answers (its borrower must be the offer's); accepting the offer funds it." })
  financingRequestId?: string | null;
}

@InputType()
export class RepayFacilityInput {
  @Field(() => ID)
  facilityId: string;

  @Field(() => DecimalScalar)
  amount: string;

  @Field()
  idempotencyKey: string;
}
