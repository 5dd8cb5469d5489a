import { Field, InputType } from '@nestjs/graphql';
import { OrganizationRole, OrganizationStatus } from '../models/organization.model.js';

@InputType()
export class OrganizationFilter {
  @Field(() => OrganizationRole, { nullable: true })
  role?: OrganizationRole | null;

  @Field(() => OrganizationStatus, { nullable: true, description: 'PENDING: the approvals queue.' })
  status?: OrganizationStatus | null;
}
