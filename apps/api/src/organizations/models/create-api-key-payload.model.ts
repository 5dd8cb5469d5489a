import { Field, ObjectType } from '@nestjs/graphql';
import { ApiKeyModel } from './api-key.model.js';

@ObjectType('CreateApiKeyPayload')
export class CreateApiKeyPayload {
  @Field(() => ApiKeyModel)
  apiKey: ApiKeyModel;

  @Field({ description: 'Shown once. Send it as `Authorization: Bearer <secret>`.' })
  secret: string;
}
