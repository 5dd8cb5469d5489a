import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { Decimal } from '@ccx/core';
import type { CircuitState } from './domain/breaker.js';

/** An inference endpoint as stored (the sealed upstream key never leaves the gateway). */
export interface EndpointRow {
  id: string;
  seq: string;
  listingId: string;
  sellerId: string;
  baseUrl: string;
  apiKeySealed: Buffer | null;
  apiKeyLastFour: string | null;
  enabled: boolean;
  createdAt: Date;
  models: { model: string; upstreamModel: string }[];
  circuitState: CircuitState;
  requests: number;
  failures: number;
}

/** A model's rate card, as the gateway prices a call with it. */
export interface RateCard {
  id: string;
  input: Decimal;
  output: Decimal;
  maxOutputTokens: number;
}

/** One routable (endpoint, model) pair with what routing and the breaker need. */
export interface CandidateRow {
  endpointId: string;
  seq: string;
  baseUrl: string;
  apiKeySealed: Buffer | null;
  listingId: string;
  sellerId: string;
  model: string;
  upstreamModel: string;
  wholesaleCostPerCredit: Decimal;
  allocated: Decimal;
  served: Decimal;
  state: CircuitState;
  consecutiveFailures: number;
  openUntil: Date | null;
  probeUntil: Date | null;
  windowRequests: number;
  windowFailures: number;
}

const ENDPOINT_SELECT = `
  SELECT e.id, e.seq::text AS seq, e.listing_id, e.seller_id, e.base_url, e.api_key_encrypted, e.api_key_last_four, e.enabled,
         e.created_at, coalesce(c.state, 'CLOSED') AS state, coalesce(c.requests, 0)::text AS requests,
         coalesce(c.failures, 0)::text AS failures,
         coalesce((SELECT json_agg(json_build_object('model', m.model, 'upstreamModel', m.upstream_model) ORDER BY m.model)
                     FROM inference_endpoint_models m WHERE m.endpoint_id = e.id), '[]') AS models
    FROM inference_endpoints e LEFT JOIN endpoint_circuits c ON c.endpoint_id = e.id`;

/** The gateway's tables of supply: endpoints, their models, circuits and served credits. */
@Injectable()
export class EndpointStore {
  /** Routing reads per model set, reused for `routingCacheMs` (bounded: at most 1,000 sets). */
  private readonly cache = new Map<string, { at: number; business: number; value: { rates: Map<string, RateCard>; rows: CandidateRow[] } }>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Forget cached routing reads (this process changed an endpoint). */
  invalidate(): void {
    this.cache.clear();
  }

  /**
   * `routing`, with what changes rarely (rate cards, endpoints, listings, served credits, the
   * last minute's error rate) reused for a moment, and the circuits always read fresh: an open
   * circuit is seen by the next request of every process. A jump of the business clock (the test
   * clock) invalidates the reuse.
   */
  async routingCached(models: string[], businessNow: Date, wallNow: Date): Promise<{ rates: Map<string, RateCard>; rows: CandidateRow[] }> {
    const ttl = this.config.gateway.routingCacheMs;
    if (ttl === 0) return this.routing(models, businessNow, wallNow);
    const key = models.join('\u0000');
    const hit = this.cache.get(key);
    const fresh = hit && wallNow.getTime() - hit.at < ttl && Math.abs(businessNow.getTime() - hit.business - (wallNow.getTime() - hit.at)) < ttl;
    if (!fresh) {
      const value = await this.routing(models, businessNow, wallNow);
      if (this.cache.size >= 1000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { at: wallNow.getTime(), business: businessNow.getTime(), value });
      return value;
    }
    const { rates, rows } = hit.value;
    if (!rows.length) return hit.value;
    const circuits: { endpoint_id: string; state: CandidateRow['state']; consecutive_failures: number; open_until: Date | null; probe_until: Date | null }[] =
      await this.dataSource.query(
        `SELECT endpoint_id, state, consecutive_failures, open_until, probe_until FROM endpoint_circuits WHERE endpoint_id = ANY($1::uuid[])`,
        [[...new Set(rows.map((r) => r.endpointId))]],
      );
    const byId = new Map(circuits.map((c) => [c.endpoint_id, c]));
    return {
      rates,
      rows: rows.map((r) => {
        const c = byId.get(r.endpointId);
        return c
          ? { ...r, state: c.state, consecutiveFailures: Number(c.consecutive_failures), openUntil: c.open_until ? new Date(c.open_until) : null, probeUntil: c.probe_until ? new Date(c.probe_until) : null }
          : r;
      }),
    };
  }

  async insertInTransaction(
    manager: EntityManager,
    e: { id: string; listingId: string; sellerId: string; baseUrl: string; apiKeySealed: Buffer | null; apiKeyLastFour: string | null; createdAt: Date },
    models: { model: string; upstreamModel: string }[],
  ): Promise<void> {
    await manager.query(
      `INSERT INTO inference_endpoints (id, listing_id, seller_id, base_url, api_key_encrypted, api_key_last_four, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [e.id, e.listingId, e.sellerId, e.baseUrl, e.apiKeySealed, e.apiKeyLastFour, e.createdAt],
    );
    await manager.query(
      `INSERT INTO inference_endpoint_models (endpoint_id, model, upstream_model) SELECT $1, * FROM unnest($2::text[], $3::text[])`,
      [e.id, models.map((m) => m.model), models.map((m) => m.upstreamModel)],
    );
    await manager.query(`INSERT INTO endpoint_circuits (endpoint_id) VALUES ($1)`, [e.id]);
    this.invalidate();
  }

  async setEnabled(id: string, enabled: boolean): Promise<void> {
    await this.dataSource.query(`UPDATE inference_endpoints SET enabled = $2 WHERE id = $1`, [id, enabled]);
    this.invalidate();
  }

  async get(id: string): Promise<EndpointRow | null> {
    const [row] = await this.dataSource.query(`${ENDPOINT_SELECT} WHERE e.id = $1`, [id]);
    return row ? toEndpoint(row) : null;
  }

  /** A seller's endpoints, or everyone's (operator), oldest first. */
  async list(sellerId: string | null): Promise<EndpointRow[]> {
    const rows = await this.dataSource.query(`${ENDPOINT_SELECT} WHERE ($1::uuid IS NULL OR e.seller_id = $1) ORDER BY e.seq LIMIT 1000`, [sellerId]);
    return rows.map(toEndpoint);
  }

  /**
   * The rate cards of `models` and the endpoints that may serve them now (SPEC §12 eligibility,
   * circuit aside): enabled, the seller ACTIVE, the listing OPEN or SOLD_OUT with `businessNow`
   * inside its window — with their circuit and the last minute's attempts (per-second buckets).
   * One statement: a model with no eligible endpoint comes back once, without an endpoint. It
   * reads catalog, listing and organization rows (never writes them) because every request routes
   * through it: one round trip instead of one per owning module.
   */
  async routing(models: string[], businessNow: Date, wallNow: Date): Promise<{ rates: Map<string, RateCard>; rows: CandidateRow[] }> {
    const found = await this.dataSource.query(
      `SELECT md.id AS model_id, md.input_credits_per_million_tokens::text AS rate_in, md.output_credits_per_million_tokens::text AS rate_out,
              md.max_output_tokens, c.*
         FROM models md
         LEFT JOIN LATERAL (
           SELECT e.id AS endpoint_id, e.seq::text AS seq, e.base_url, e.api_key_encrypted, e.listing_id, e.seller_id,
                  m.upstream_model, l.wholesale_cost_per_credit::text AS cost, l.allocated_credits::text AS allocated,
                  coalesce(s.served_credits, 0)::text AS served,
                  coalesce(ci.state, 'CLOSED') AS state, coalesce(ci.consecutive_failures, 0) AS consecutive_failures,
                  ci.open_until, ci.probe_until, coalesce(w.requests, 0)::int AS window_requests, coalesce(w.failures, 0)::int AS window_failures
             FROM inference_endpoint_models m
             JOIN inference_endpoints e ON e.id = m.endpoint_id AND e.enabled
             JOIN organizations o ON o.id = e.seller_id AND o.status = 'ACTIVE'
             JOIN listings l ON l.id = e.listing_id AND l.status IN ('OPEN', 'SOLD_OUT')
                            AND l.available_from <= $2 AND l.available_until > $2
             LEFT JOIN listing_service s ON s.listing_id = l.id
             LEFT JOIN endpoint_circuits ci ON ci.endpoint_id = e.id
             LEFT JOIN LATERAL (
               SELECT sum(requests) AS requests, sum(failures) AS failures FROM endpoint_outcomes x
                WHERE x.endpoint_id = e.id AND x.second > $3::timestamptz - interval '60 seconds'
             ) w ON true
            WHERE m.model = md.id
         ) c ON true
        WHERE md.id = ANY($1::text[])`,
      [models, businessNow, wallNow],
    );
    const rates = new Map<string, RateCard>();
    const rows: CandidateRow[] = [];
    for (const r of found as Record<string, any>[]) {
      rates.set(r.model_id, { id: r.model_id, input: new Decimal(r.rate_in), output: new Decimal(r.rate_out), maxOutputTokens: Number(r.max_output_tokens) });
      if (!r.endpoint_id) continue;
      rows.push({
        endpointId: r.endpoint_id,
        seq: r.seq,
        baseUrl: r.base_url,
        apiKeySealed: r.api_key_encrypted,
        listingId: r.listing_id,
        sellerId: r.seller_id,
        model: r.model_id,
        upstreamModel: r.upstream_model,
        wholesaleCostPerCredit: new Decimal(r.cost),
        allocated: new Decimal(r.allocated),
        served: new Decimal(r.served),
        state: r.state,
        consecutiveFailures: Number(r.consecutive_failures),
        openUntil: r.open_until ? new Date(r.open_until) : null,
        probeUntil: r.probe_until ? new Date(r.probe_until) : null,
        windowRequests: Number(r.window_requests),
        windowFailures: Number(r.window_failures),
      });
    }
    return { rates, rows };
  }

  /** Served credits of listings (0 for a listing that served nothing). */
  async servedCredits(listingIds: readonly string[]): Promise<Map<string, Decimal>> {
    const rows: { listing_id: string; served: string }[] = listingIds.length
      ? await this.dataSource.query(`SELECT listing_id, served_credits::text AS served FROM listing_service WHERE listing_id = ANY($1::uuid[])`, [listingIds])
      : [];
    return new Map(rows.map((r) => [r.listing_id, new Decimal(r.served)]));
  }
}

function toEndpoint(r: Record<string, any>): EndpointRow {
  return {
    id: r.id,
    seq: r.seq,
    listingId: r.listing_id,
    sellerId: r.seller_id,
    baseUrl: r.base_url,
    apiKeySealed: r.api_key_encrypted,
    apiKeyLastFour: r.api_key_last_four,
    enabled: r.enabled,
    createdAt: new Date(r.created_at),
    models: typeof r.models === 'string' ? JSON.parse(r.models) : r.models,
    circuitState: r.state,
    requests: Number(r.requests),
    failures: Number(r.failures),
  };
}
