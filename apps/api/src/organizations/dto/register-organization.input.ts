import { Field, InputType } from '@nestjs/graphql';
import { Role } from '../../auth/principal.js';

@InputType()
export class RegisterOrganizationInput {
  @Field()
  name: string;

  @Field(() => Role)
  role: Role;
}
