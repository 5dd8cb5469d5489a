import { Field, ObjectType } from '@nestjs/graphql';

/** Relay's page info, shared by every connection (listings, organizations, requests, entries). */
@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}
