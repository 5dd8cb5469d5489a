import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { OrgStatus, Role } from '../../auth/principal.js';
import type { OrganizationEntity } from '../organization.entity.js';

registerEnumType(Role, { name: 'OrganizationRole' });
registerEnumType(OrgStatus, { name: 'OrganizationStatus' });

@ObjectType('Organization')
export class OrganizationModel {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => Role)
  role: Role;

  @Field(() => OrgStatus)
  status: OrgStatus;

  @Field(() => Date)
  createdAt: Date;
}

export function toOrganizationModel(entity: OrganizationEntity): OrganizationModel {
  return {
    id: entity.id,
    name: entity.name,
    role: entity.role,
    status: entity.status,
    createdAt: entity.createdAt,
  };
}
