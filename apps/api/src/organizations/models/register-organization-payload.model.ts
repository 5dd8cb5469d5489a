import { Field, ObjectType } from '@nestjs/graphql';
import { OrganizationModel } from './organization.model.js';

@ObjectType('RegisterOrganizationPayload')
export class RegisterOrganizationPayload {
  @Field(() => OrganizationModel)
  organization: OrganizationModel;

  @Field({ description: 'Shown once. Send it as `Authorization: Bearer <apiKey>`.' })
  apiKey: string;
}
