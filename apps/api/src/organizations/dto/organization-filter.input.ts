import { Field, InputType } from '@nestjs/graphql';
import { OrgStatus, Role } from '../../auth/principal.js';

@InputType()
export class OrganizationFilter {
  @Field(() => Role, { nullable: true })
  role?: Role | null;

  @Field(() => OrgStatus, { nullable: true, description: 'PENDING: the approvals queue.' })
  status?: OrgStatus | null;
}
