import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { Decimal, DomainError, formatAmount } from '@ccx/core';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { newId } from '../common/ids.js';
import type { Principal } from '../auth/principal.js';
import { ApiKeysService } from '../organizations/index.js';
import { safeConnector } from '../net/index.js';
import { retryAfterSeconds, routable } from './domain/breaker.js';
import { parseChatRequest, parseEmbeddingsRequest, type ChatRequest, type EmbeddingsRequest } from './domain/chat-request.js';
import { affordableMaxTokens, chatInputBound, chatOutputBound, embeddingInputBound, tokenRate, tokensCost } from './domain/hold-bound.js';
import { routeFor } from './domain/routing.js';
import { EndpointStore, type CandidateRow } from './endpoint-store.js';
import { CircuitStore } from './circuit-store.js';
import { GatewayCreditsService, type CloseRequest } from './gateway-credits.service.js';
import { fromDomainError, GatewayError, modelNotFound } from './gateway-error.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { IdempotencyStore } from './idempotency-store.js';
import { Relay, type RelayContext, type RoutedCandidate } from './relay.js';
import { SecretBox } from './secret-box.js';
import { UpstreamClient } from './upstream/index.js';

/**
 * The inference gateway (SPEC §12): a buyer's OpenAI-shaped request is checked, priced at its
 * upper bound and held, routed to the cheapest healthy provider (with failover), relayed back as
 * it streams, and charged what the provider reports — or, on any error, nothing.
 */
@Injectable()
export class GatewayService implements OnApplicationShutdown {
  private readonly logger = new Logger('Gateway');
  private readonly upstream: UpstreamClient;
  private readonly relay: Relay;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly store: EndpointStore,
    private readonly circuits: CircuitStore,
    private readonly credits: GatewayCreditsService,
    private readonly secrets: SecretBox,
    private readonly idempotency: IdempotencyStore,
    private readonly metrics: GatewayMetrics,
    private readonly apiKeys: ApiKeysService,
  ) {
    this.upstream = new UpstreamClient({ connect: safeConnector({ allowPrivate: config.allowPrivateUrls }) });
    this.relay = new Relay(this.upstream, this.circuits, this.credits, this.secrets, this.metrics, config.gateway);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.upstream.close();
  }

  /**
   * `GET /v1/models`: catalog models that at least one eligible endpoint serves, with their rates
   * (one read across the catalog's, listings' and organizations' tables, as routing does).
   */
  async models(): Promise<object> {
    const rows: { id: string; input: string; output: string; max_output_tokens: number; updated_at: Date }[] = await this.dataSource.query(
      `SELECT DISTINCT md.id, md.input_credits_per_million_tokens::text AS input, md.output_credits_per_million_tokens::text AS output,
              md.max_output_tokens, md.updated_at
         FROM models md
         JOIN inference_endpoint_models m ON m.model = md.id
         JOIN inference_endpoints e ON e.id = m.endpoint_id AND e.enabled
         JOIN organizations o ON o.id = e.seller_id AND o.status = 'ACTIVE'
         JOIN listings l ON l.id = e.listing_id AND l.status IN ('OPEN', 'SOLD_OUT') AND l.available_from <= $1 AND l.available_until > $1
         LEFT JOIN endpoint_circuits c ON c.endpoint_id = e.id
        WHERE coalesce(c.state, 'CLOSED') = 'CLOSED' OR c.open_until <= $2 OR c.probe_until <= $2
        ORDER BY md.id`,
      [this.clock.now(), new Date()],
    );
    return {
      object: 'list',
      data: rows.map((r) => ({
        id: r.id,
        object: 'model',
        created: Math.floor(new Date(r.updated_at).getTime() / 1000),
        owned_by: 'ccx',
        max_output_tokens: r.max_output_tokens,
        pricing: { unit: 'credits per million tokens', input: formatAmount(r.input, 6), output: formatAmount(r.output, 6) },
      })),
    };
  }

  /** `POST /v1/chat/completions` and `POST /v1/embeddings`. Always answers on `res`. */
  async handle(kind: 'chat' | 'embeddings', principal: Principal | null, body: unknown, idempotencyKey: string | undefined, res: Response): Promise<void> {
    const requestId = newId();
    res.setHeader('x-ccx-request-id', requestId);
    let ownedKey: string | null = null;
    let keep = false;
    try {
      const buyer = this.buyerOf(principal);
      const request = kind === 'chat' ? parseChatRequest(body) : parseEmbeddingsRequest(body);
      if (idempotencyKey !== undefined && !request.stream) {
        const replay = await this.idempotency.begin(buyer.organizationId, idempotencyKey, IdempotencyStore.hash(body, kind));
        if (replay) {
          for (const [k, v] of Object.entries(replay.headers)) res.setHeader(k, v);
          res.setHeader('x-ccx-idempotent-replay', 'true');
          res.status(replay.status).type('application/json').send(replay.body);
          return;
        }
        ownedKey = idempotencyKey;
      }
      const answer = await this.serve(requestId, buyer, request, res);
      if (ownedKey && answer) {
        await this.idempotency.finish(buyer.organizationId, ownedKey, answer);
        keep = true;
      }
    } catch (error) {
      this.answerError(res, error);
    } finally {
      if (ownedKey && !keep) await this.idempotency.release(principal!.organizationId, ownedKey).catch(() => undefined);
    }
  }

  private buyerOf(principal: Principal | null): Principal {
    if (!principal) throw new GatewayError(401, 'authentication_error', 'invalid_api_key', 'Send a CCX API key as "Authorization: Bearer <key>"');
    if (principal.role !== 'BUYER') {
      const article = principal.role === 'OPERATOR' ? 'An' : 'A';
      throw new GatewayError(403, 'permission_error', 'forbidden', `${article} ${principal.role} organization has no credits to spend; use a buyer's API key`);
    }
    if (principal.status !== 'ACTIVE') throw new GatewayError(403, 'permission_error', 'forbidden', `The organization is ${principal.status} and cannot spend credits`);
    return principal;
  }

  private async serve(requestId: string, buyer: Principal, request: ChatRequest | EmbeddingsRequest, res: Response) {
    const startedAt = this.clock.now();
    const started = Date.now();
    const wallNow = new Date();
    // The rate cards and the routable endpoints (circuits always fresh; the rest reused briefly).
    const { rates, rows } = await this.store.routingCached(request.models, this.clock.now(), wallNow);
    const missing = request.models.find((m) => !rates.has(m));
    if (missing) throw modelNotFound(missing);

    const inputTokens = request.kind === 'chat' ? chatInputBound(request.body as { messages: unknown[] }) : embeddingInputBound(request.input);
    const outputFor = (m: string) => (request.kind === 'chat' ? chatOutputBound(request.maxTokens, rates.get(m)!.maxOutputTokens, request.n) : 0);
    const holdFor = (m: string) => tokensCost({ inputTokens, outputTokens: outputFor(m) }, tokenRate({ inputPerMillion: rates.get(m)!.input, outputPerMillion: rates.get(m)!.output }));
    // One hold covers whichever model ends up serving: the largest bound among them.
    const hold = request.models.map(holdFor).reduce((a, b) => Decimal.max(a, b));

    const byModel = new Map<string, RoutedCandidate[]>();
    for (const row of rows) byModel.set(row.model, [...(byModel.get(row.model) ?? []), toCandidate(row, wallNow)]);
    const route = routeFor(byModel, request.models, request.prefs, hold);
    const apiKeyId = buyer.apiKeyId ?? null;
    const base = { requestId, organizationId: buyer.organizationId, apiKeyId, model: request.models[0], stream: request.stream, startedAt };
    if (!route.length) {
      const retryAfter = retryAfterSeconds(rows.map(circuitOf), wallNow);
      await this.log({ ...base, opened: false, holdId: null, hold: new Decimal(0), status: 'FAILED', errorCode: 'no_provider_available', started });
      throw new GatewayError(503, 'api_error', 'no_provider_available', `No provider can serve ${request.models.join(', ')} right now`, 'model', {}, retryAfter ? { 'Retry-After': String(retryAfter) } : {});
    }

    // The limit came with the key (one read per request); a principal without it asks again.
    const keyLimit =
      buyer.monthlyCreditLimit !== undefined
        ? buyer.monthlyCreditLimit === null
          ? null
          : new Decimal(buyer.monthlyCreditLimit)
        : apiKeyId
          ? ((await this.apiKeys.limitOf(apiKeyId))?.monthlyCreditLimit ?? null)
          : null;
    const opened = await this.credits.open({ requestId, organizationId: buyer.organizationId, apiKeyId, keyLimit, model: request.models[0], hold, stream: request.stream });
    if (!opened.ok) {
      this.metrics.requests.inc({ status: 'REFUSED' });
      const primary = rates.get(request.models[0])!;
      const rate = tokenRate({ inputPerMillion: primary.input, outputPerMillion: primary.output });
      const frozen = opened.code === 'CREDITS_FROZEN';
      throw new GatewayError(
        402,
        'insufficient_credits',
        frozen ? 'credits_frozen' : 'insufficient_credits',
        opened.limitSource === 'key'
          ? `This API key's monthly credit limit leaves ${formatAmount(opened.available, 6)} credits; this request may cost up to ${formatAmount(hold, 6)}.`
          : frozen
            ? `The credits that would cover this request are frozen; ${formatAmount(opened.available, 6)} are available and it may cost up to ${formatAmount(hold, 6)}.`
            : `Not enough credits: ${formatAmount(opened.available, 6)} available, this request may cost up to ${formatAmount(hold, 6)}. Lower max_tokens or buy credits.`,
        null,
        {
          available: formatAmount(opened.available, 6),
          required: formatAmount(hold, 6),
          affordable_max_tokens: request.kind === 'chat' ? affordableMaxTokens(opened.available, inputTokens, rate, request.n) : null,
          ...(opened.limitSource === 'key' ? { limit_source: 'key' } : {}),
        },
        { 'x-should-retry': 'false' },
      );
    }
    const ctx: RelayContext = {
      request,
      route,
      inputBound: inputTokens,
      hold,
      holdId: opened.holdId,
      rates,
      // Only a request on a limited key has a RUNNING row to finish; the others are inserted at the end.
      base: { ...base, opened: keyLimit !== null },
      started,
    };
    return this.relay.run(ctx, res);
  }

  private async log(x: {
    requestId: string;
    organizationId: string;
    apiKeyId: string | null;
    model: string;
    stream: boolean;
    startedAt: Date;
    opened: boolean;
    holdId: string | null;
    hold: Decimal;
    status: CloseRequest['status'];
    errorCode: string;
    started: number;
  }): Promise<void> {
    this.metrics.requests.inc({ status: x.status });
    await this.credits.close({
      ...x,
      charge: false,
      inputTokens: 0,
      outputTokens: 0,
      estimated: false,
      endpointId: null,
      listingId: null,
      sellerId: null,
      attempts: 0,
      latencyMs: Date.now() - x.started,
      ttftMs: null,
    });
  }

  private answerError(res: Response, error: unknown): void {
    const gatewayError =
      error instanceof GatewayError ? error : error instanceof DomainError ? fromDomainError(error) : null;
    if (!gatewayError) this.logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    const e = gatewayError ?? new GatewayError(500, 'api_error', 'internal_error', 'Internal server error');
    for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
    res.status(e.status).json(e.body());
  }
}

function circuitOf(row: CandidateRow) {
  return { state: row.state, consecutiveFailures: row.consecutiveFailures, openUntil: row.openUntil, probeUntil: row.probeUntil };
}

function toCandidate(row: CandidateRow, now: Date): RoutedCandidate {
  return {
    endpointId: row.endpointId,
    model: row.model,
    upstreamModel: row.upstreamModel,
    listingId: row.listingId,
    sellerId: row.sellerId,
    wholesaleCostPerCredit: row.wholesaleCostPerCredit,
    owed: row.allocated.minus(row.served),
    errorRate: row.windowRequests > 0 ? row.windowFailures / row.windowRequests : 0,
    seq: BigInt(row.seq),
    circuit: routable(circuitOf(row), now),
    baseUrl: row.baseUrl,
    sealedKey: row.apiKeySealed,
  };
}
