import { Field, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { formatAmount } from '@ccx/core';
import { DecimalScalar } from '../../graphql/decimal.scalar.js';
import { PageInfo } from '../../graphql/page-info.js';
import type { EndpointRow } from '../endpoint-store.js';
import type { InferenceRequestRow } from '../request-log.service.js';
import { CircuitState } from '../domain/breaker.js';
import { InferenceRequestStatus } from '../domain/inference-request.js';
registerEnumType(CircuitState, { name: 'CircuitState' });
registerEnumType(InferenceRequestStatus, { name: 'InferenceRequestStatus' });

@ObjectType()
export class EndpointModel {
  @Field()
  model: string;

  @Field()
  upstreamModel: string;
}

@ObjectType('InferenceEndpoint', { description: "A seller's OpenAI-compatible inference server, attached to one of its listings." })
export class InferenceEndpointModel {
  @Field(() => ID)
  id: string;

  listingId: string;

  @Field()
  baseUrl: string;

  @Field(() => String, { nullable: true, description: 'The last 4 characters of the upstream API key; the key itself is never shown.' })
  apiKeyLastFour: string | null;

  @Field(() => [EndpointModel])
  models: EndpointModel[];

  @Field()
  enabled: boolean;

  @Field(() => CircuitState)
  circuitState: CircuitState;

  @Field(() => Int)
  requests: number;

  @Field(() => Int)
  failures: number;

  @Field(() => Date)
  createdAt: Date;
}

@InputType()
export class ModelEndpointInput {
  @Field()
  model: string;

  @Field(() => String, { nullable: true, description: "The provider's own name for the model; defaults to the catalog id." })
  upstreamModel?: string | null;
}

@InputType()
export class CreateInferenceEndpointInput {
  @Field(() => ID)
  listingId: string;

  @Field()
  baseUrl: string;

  @Field(() => String, { nullable: true, description: 'Sent upstream as a Bearer token; write-only.' })
  apiKey?: string | null;

  @Field(() => [ModelEndpointInput])
  models: ModelEndpointInput[];
}

@ObjectType('InferenceRequest', { description: 'One call through the gateway (never its prompt or completion).' })
export class InferenceRequestModel {
  @Field(() => ID)
  id: string;

  @Field()
  model: string;

  @Field(() => ID, { nullable: true })
  endpointId: string | null;

  @Field(() => InferenceRequestStatus)
  status: InferenceRequestStatus;

  @Field(() => Int)
  attempts: number;

  @Field(() => Int)
  inputTokens: number;

  @Field(() => Int)
  outputTokens: number;

  @Field(() => DecimalScalar)
  credits: string;

  @Field()
  estimated: boolean;

  @Field()
  stream: boolean;

  @Field(() => Int)
  latencyMs: number;

  @Field(() => Int, { nullable: true })
  timeToFirstTokenMs: number | null;

  @Field(() => Date)
  createdAt: Date;
}

@ObjectType()
export class InferenceRequestEdge {
  @Field()
  cursor: string;

  @Field(() => InferenceRequestModel)
  node: InferenceRequestModel;
}

@ObjectType()
export class InferenceRequestConnection {
  @Field(() => [InferenceRequestEdge])
  edges: InferenceRequestEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;

  @Field(() => Int)
  totalCount: number;
}

export function toEndpointModel(e: EndpointRow): InferenceEndpointModel {
  return {
    id: e.id,
    listingId: e.listingId,
    baseUrl: e.baseUrl,
    apiKeyLastFour: e.apiKeyLastFour,
    models: e.models,
    enabled: e.enabled,
    circuitState: e.circuitState,
    requests: e.requests,
    failures: e.failures,
    createdAt: e.createdAt,
  };
}

export function toInferenceRequestModel(r: InferenceRequestRow): InferenceRequestModel {
  return {
    id: r.id,
    model: r.model,
    endpointId: r.endpointId,
    status: r.status,
    attempts: r.attempts,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    credits: formatAmount(r.credits, 6),
    estimated: r.estimated,
    stream: r.stream,
    latencyMs: r.latencyMs,
    timeToFirstTokenMs: r.ttftMs,
    createdAt: r.createdAt,
  };
}
