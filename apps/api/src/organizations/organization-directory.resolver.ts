import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { OrganizationFilter } from './dto/organization-filter.input.js';
import { OrganizationConnection } from './models/organization-connection.model.js';
import { toOrganizationModel } from './models/organization.model.js';
import { encodeDirectoryCursor, OrganizationDirectory } from './organization-directory.js';

@Resolver()
export class OrganizationDirectoryResolver {
  constructor(private readonly directory: OrganizationDirectory) {}

  @Query(() => OrganizationConnection, {
    description: 'Operator: organizations newest first, by role and status (status: PENDING is the approvals queue). first: 1 to 200, default 50.',
  })
  @Access('OPERATOR')
  async organizations(
    @Args('filter', { type: () => OrganizationFilter, nullable: true }) filter?: OrganizationFilter | null,
    @Args('first', { type: () => Int, nullable: true }) first?: number | null,
    @Args('after', { type: () => String, nullable: true }) after?: string | null,
  ): Promise<OrganizationConnection> {
    const page = await this.directory.page({ role: filter?.role ?? null, status: filter?.status ?? null, first, after });
    const edges = page.items.map((o) => ({ cursor: encodeDirectoryCursor(o), node: toOrganizationModel(o) }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.length ? edges[edges.length - 1].cursor : null },
      totalCount: page.totalCount,
    };
  }
}
