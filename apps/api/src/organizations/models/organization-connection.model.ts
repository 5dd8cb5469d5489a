import { Field, Int, ObjectType } from '@nestjs/graphql';
import { PageInfo } from '../../graphql/page-info.js';
import { OrganizationModel } from './organization.model.js';

@ObjectType()
export class OrganizationEdge {
  @Field()
  cursor: string;

  @Field(() => OrganizationModel)
  node: OrganizationModel;
}

@ObjectType()
export class OrganizationConnection {
  @Field(() => [OrganizationEdge])
  edges: OrganizationEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;

  @Field(() => Int)
  totalCount: number;
}
