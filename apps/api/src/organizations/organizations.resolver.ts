import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { parseId } from '../common/ids.js';
import { parseRegisterOrganization } from './domain/organization-commands.js';
import { RegisterOrganizationInput } from './dto/register-organization.input.js';
import { OrganizationModel, toOrganizationModel } from './models/organization.model.js';
import { RegisterOrganizationPayload } from './models/register-organization-payload.model.js';
import { OrganizationsService } from './organizations.service.js';

@Resolver(() => OrganizationModel)
export class OrganizationsResolver {
  constructor(private readonly organizations: OrganizationsService) {}

  @Query(() => OrganizationModel, { description: 'The organization of the API key in use.' })
  @Access('AUTHENTICATED')
  async me(@CurrentPrincipal() principal: Principal): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.get(principal.organizationId));
  }

  @Mutation(() => RegisterOrganizationPayload, { description: 'Public sign-up; the API key is shown once.' })
  @Access('PUBLIC')
  async registerOrganization(@Args('input') input: RegisterOrganizationInput): Promise<RegisterOrganizationPayload> {
    const { organization, apiKey } = await this.organizations.register(parseRegisterOrganization(input));
    return { organization: toOrganizationModel(organization), apiKey };
  }

  @Mutation(() => OrganizationModel)
  @Access('OPERATOR')
  async approveOrganization(@Args('id', { type: () => ID }) id: string): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.approve(parseId(id, 'organization')));
  }

  @Mutation(() => OrganizationModel)
  @Access('OPERATOR')
  async suspendOrganization(@Args('id', { type: () => ID }) id: string): Promise<OrganizationModel> {
    return toOrganizationModel(await this.organizations.suspend(parseId(id, 'organization')));
  }
}
