import { Field, InputType } from '@nestjs/graphql';
import { OrganizationRole } from '../models/organization.model.js';

@InputType()
export class RegisterOrganizationInput {
  @Field()
  name: string;

  @Field(() => OrganizationRole)
  role: OrganizationRole;
}
