import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../auth/access.decorator.js';
import { CurrentPrincipal } from '../auth/current-principal.decorator.js';
import type { Principal } from '../auth/principal.js';
import { parseId } from '../common/ids.js';
import { parseCreateApiKey } from './domain/organization-commands.js';
import { CreateApiKeyInput } from './dto/create-api-key.input.js';
import { ApiKeyModel, toApiKeyModel } from './models/api-key.model.js';
import { CreateApiKeyPayload } from './models/create-api-key-payload.model.js';
import { ApiKeysService } from './api-keys.service.js';

/** Every organization manages its own keys (SPEC §12); nobody, not even the operator, sees another's. */
@Resolver(() => ApiKeyModel)
export class ApiKeysResolver {
  constructor(private readonly keys: ApiKeysService) {}

  @Query(() => [ApiKeyModel], { description: "The caller's organization's API keys, newest first, revoked ones included." })
  @Access('AUTHENTICATED')
  async apiKeys(@CurrentPrincipal() principal: Principal): Promise<ApiKeyModel[]> {
    return (await this.keys.list(principal.organizationId)).map(toApiKeyModel);
  }

  @Mutation(() => CreateApiKeyPayload, { description: 'A new named API key; its secret is shown once.' })
  @Access('AUTHENTICATED')
  async createApiKey(@CurrentPrincipal() principal: Principal, @Args('input') input: CreateApiKeyInput): Promise<CreateApiKeyPayload> {
    const { apiKey, secret } = await this.keys.create(principal.organizationId, parseCreateApiKey(input, principal.role));
    return { apiKey: toApiKeyModel(apiKey), secret };
  }

  @Mutation(() => ApiKeyModel, { description: 'Revokes one of your keys; the next request with it is refused.' })
  @Access('AUTHENTICATED')
  async revokeApiKey(@CurrentPrincipal() principal: Principal, @Args('id', { type: () => ID }) id: string): Promise<ApiKeyModel> {
    return toApiKeyModel(await this.keys.revoke(principal.organizationId, parseId(id, 'API key')));
  }
}
