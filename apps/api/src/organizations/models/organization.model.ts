import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import type { OrganizationEntity } from '../organization.entity.js';

export enum OrganizationRole {
  BUYER = 'BUYER',
  SELLER = 'SELLER',
  LENDER = 'LENDER',
  OPERATOR = 'OPERATOR',
}
export enum OrganizationStatus {
  PENDING = 'PENDING',
  ACTIVE = 'ACTIVE',
  SUSPENDED = 'SUSPENDED',
}
registerEnumType(OrganizationRole, { name: 'OrganizationRole' });
registerEnumType(OrganizationStatus, { name: 'OrganizationStatus' });

@ObjectType('Organization')
export class OrganizationModel {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => OrganizationRole)
  role: OrganizationRole;

  @Field(() => OrganizationStatus)
  status: OrganizationStatus;

  @Field(() => Date)
  createdAt: Date;
}

export function toOrganizationModel(entity: OrganizationEntity): OrganizationModel {
  return {
    id: entity.id,
    name: entity.name,
    role: entity.role as OrganizationRole,
    status: entity.status as OrganizationStatus,
    createdAt: entity.createdAt,
  };
}
