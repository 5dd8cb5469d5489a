import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { GroupCommit } from '../common/group-commit.js';
import { UsageHoldBatchService } from '../usage/index.js';
import type { InferenceRequestStatus } from './domain/inference-request.js';

type Work = { kind: 'open'; request: OpenRequest } | { kind: 'close'; request: CloseRequest };

/** A request about to call a provider: its hold (and, on a limited key, its RUNNING log row). */
export interface OpenRequest {
  requestId: string;
  organizationId: string;
  apiKeyId: string | null;
  keyLimit: Decimal | null;
  model: string;
  hold: Decimal;
  stream: boolean;
}

export type OpenOutcome =
  | { ok: true; holdId: string | null }
  | { ok: false; code: 'INSUFFICIENT_CREDITS' | 'CREDITS_FROZEN'; available: Decimal; limitSource: 'balance' | 'key' };

/** How a request ended, to be charged (or not) and logged. */
export interface CloseRequest {
  requestId: string;
  organizationId: string;
  apiKeyId: string | null;
  holdId: string | null;
  hold: Decimal;
  /** The request had no hold yet (refused before it): insert its row rather than update it. */
  opened: boolean;
  /** The rate card of the served model when the request began: the price of the call. */
  rate?: { inputPerMillion: Decimal; outputPerMillion: Decimal } | null;
  model: string;
  stream: boolean;
  status: InferenceRequestStatus;
  /** Charge the tokens below (what was delivered), or release the hold untouched. */
  charge: boolean;
  inputTokens: number;
  outputTokens: number;
  estimated: boolean;
  endpointId: string | null;
  listingId: string | null;
  sellerId: string | null;
  attempts: number;
  latencyMs: number;
  ttftMs: number | null;
  errorCode: string | null;
  startedAt: Date;
}

export interface CloseOutcome {
  credits: Decimal;
  /** The charge could not be made (credits frozen or expired during the call). */
  uncharged: string | null;
}

/**
 * The gateway's credits and its request log, through the usage module's holds (SPEC §12): every
 * request's hold, and later its capture or release, go in shared transactions with those of the
 * other requests in flight in this process (group commit), so a buyer's concurrent requests never
 * queue on its lock one by one. The capture, the request's log row, its listing's served credits
 * (and over-allocation earnings) and its key's monthly usage commit together.
 */
@Injectable()
export class GatewayCreditsService {
  /**
   * One queue for holds and captures alike: each cycle is one transaction that takes each buyer's
   * lock once, settles the requests that ended (releasing what they held), then holds for the
   * requests that start.
   */
  private readonly cycles = new GroupCommit<Work, OpenOutcome | CloseOutcome>((items) => this.withTx((m) => this.cycle(m, items)));

  constructor(
    private readonly dataSource: DataSource,
    private readonly holds: UsageHoldBatchService,
    private readonly clock: ClockService,
  ) {}

  open(request: OpenRequest): Promise<OpenOutcome> {
    return this.cycles.submit({ kind: 'open', request }) as Promise<OpenOutcome>;
  }

  close(request: CloseRequest): Promise<CloseOutcome> {
    return this.cycles.submit({ kind: 'close', request }) as Promise<CloseOutcome>;
  }

  private withTx<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    // Correctness rests on the buyer locks, not on the isolation level: no SET TRANSACTION trip.
    return withTransaction(this.dataSource, work, { isolation: 'SERVER_DEFAULT' });
  }

  private async cycle(manager: EntityManager, items: Work[]): Promise<(OpenOutcome | CloseOutcome)[]> {
    const opens = items.flatMap((w, i) => (w.kind === 'open' ? [{ i, request: w.request }] : []));
    const closes = items.flatMap((w, i) => (w.kind === 'close' ? [{ i, request: w.request }] : []));
    await this.holds.lockBuyersInTransaction(manager, items.map((w) => w.request.organizationId));
    const out: (OpenOutcome | CloseOutcome)[] = new Array(items.length);
    if (closes.length) (await this.closeMany(manager, closes.map((c) => c.request))).forEach((o, k) => (out[closes[k].i] = o));
    if (opens.length) (await this.openMany(manager, opens.map((o) => o.request))).forEach((o, k) => (out[opens[k].i] = o));
    return out;
  }

  private async openMany(manager: EntityManager, items: OpenRequest[]): Promise<OpenOutcome[]> {
    const now = this.clock.now();
    // Buyer locks first (the usage module's lock order); the key limits are judged under them.
    await this.holds.lockBuyersInTransaction(manager, items.map((i) => i.organizationId));
    const keyRoom = await this.keyRoom(manager, items, now);
    const outcomes: (OpenOutcome | null)[] = items.map((item) => {
      if (item.keyLimit === null || item.apiKeyId === null) return null;
      const room = keyRoom.get(item.apiKeyId)!;
      if (room.lt(item.hold)) return { ok: false, code: 'INSUFFICIENT_CREDITS', available: Decimal.max(room, 0), limitSource: 'key' };
      keyRoom.set(item.apiKeyId, room.minus(item.hold));
      return null;
    });
    const toHold = items.flatMap((item, i) => (outcomes[i] ? [] : [{ i, item }]));
    const held = await this.holds.authorizeManyInTransaction(
      manager,
      toHold.map(({ item }) => ({ organizationId: item.organizationId, eventId: item.requestId, credits: item.hold })),
      now,
    );
    held.forEach((h, k) => {
      const { i, item } = toHold[k];
      outcomes[i] = h.ok ? { ok: true, holdId: h.holdId } : { ok: false, code: h.code, available: h.available, limitSource: 'balance' };
      // The key's room was reserved before the balance said no: give it back.
      if (!h.ok && item.keyLimit !== null && item.apiKeyId) keyRoom.set(item.apiKeyId, keyRoom.get(item.apiKeyId)!.plus(item.hold));
    });
    // The log rows written now: refusals (final), and RUNNING rows for requests on a limited key
    // (their holds count against its limit while they run). Other requests get their row when
    // they end: one write per request instead of two.
    const rows = items.flatMap((item, k) => (!outcomes[k]!.ok || item.keyLimit !== null ? [{ item, outcome: outcomes[k]! }] : []));
    if (rows.length) {
      await manager.query(
        `INSERT INTO inference_requests (id, organization_id, api_key_id, model, status, held_credits, stream, error_code, created_at, finished_at)
         SELECT id, org, key, model, status, held, stream, err, $9, CASE WHEN status = 'RUNNING' THEN NULL ELSE $9::timestamptz END
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::numeric[], $7::boolean[], $8::text[])
             AS x(id, org, key, model, status, held, stream, err)`,
        [
          rows.map((r) => r.item.requestId),
          rows.map((r) => r.item.organizationId),
          rows.map((r) => r.item.apiKeyId),
          rows.map((r) => r.item.model),
          rows.map((r) => (r.outcome.ok ? 'RUNNING' : 'REFUSED')),
          rows.map((r) => (r.outcome.ok ? r.item.hold.toFixed() : '0')),
          rows.map((r) => r.item.stream),
          rows.map((r) => (r.outcome.ok ? null : r.outcome.limitSource === 'key' ? 'key_limit_exceeded' : r.outcome.code.toLowerCase())),
          now,
        ],
      );
    }
    return outcomes as OpenOutcome[];
  }

  /** Per limited key: limit − charged this month − holds of its requests in flight. */
  private async keyRoom(manager: EntityManager, items: OpenRequest[], now: Date): Promise<Map<string, Decimal>> {
    const limits = new Map<string, Decimal>();
    for (const i of items) if (i.apiKeyId && i.keyLimit) limits.set(i.apiKeyId, i.keyLimit);
    if (!limits.size) return new Map();
    const keys = [...limits.keys()];
    const rows: { key: string; used: string; running: string }[] = await manager.query(
      `SELECT k.key,
              coalesce((SELECT credits FROM api_key_usage u WHERE u.api_key_id = k.key AND u.month = $2), 0)::text AS used,
              coalesce((SELECT sum(held_credits) FROM inference_requests r WHERE r.api_key_id = k.key AND r.status = 'RUNNING'), 0)::text AS running
         FROM unnest($1::uuid[]) AS k(key)`,
      [keys, monthOf(now)],
    );
    return new Map(rows.map((r) => [r.key, limits.get(r.key)!.minus(r.used).minus(r.running)]));
  }

  private async closeMany(manager: EntityManager, items: CloseRequest[]): Promise<CloseOutcome[]> {
    const now = this.clock.now();
    const outcomes: CloseOutcome[] = items.map(() => ({ credits: new Decimal(0), uncharged: null }));
    const toCapture = items.flatMap((item, i) => (item.charge ? [{ i, item }] : []));
    const toRelease = items.filter((item) => !item.charge && item.holdId);
    if (toCapture.length || toRelease.length) {
      await this.holds.lockBuyersInTransaction(manager, [...toCapture.map((c) => c.item.organizationId), ...toRelease.map((r) => r.organizationId)]);
    }
    if (toRelease.length) await this.holds.voidManyInTransaction(manager, toRelease.map((r) => ({ holdId: r.holdId!, organizationId: r.organizationId })), now);
    if (toCapture.length) {
      const captured = await this.holds.captureManyInTransaction(
        manager,
        toCapture.map(({ item }) => ({
          holdId: item.holdId,
          organizationId: item.organizationId,
          eventId: item.requestId,
          model: item.model,
          inputTokens: item.inputTokens,
          outputTokens: item.outputTokens,
          cap: item.hold,
          occurredAt: item.startedAt,
          rate: item.rate ?? null,
        })),
        now,
      );
      captured.forEach((c, k) => {
        outcomes[toCapture[k].i] = c.ok ? { credits: c.credits, uncharged: null } : { credits: new Decimal(0), uncharged: c.code };
      });
    }
    await this.recordServed(manager, items, outcomes);
    await this.recordKeyUsage(manager, items, outcomes, now);
    await this.writeLog(manager, items, outcomes, now);
    return outcomes;
  }

  /**
   * Served credits per listing, and what a listing serves beyond its allocation earns its seller
   * `wholesaleCostPerCredit` per credit from the platform (SPEC §12), accrued here exactly. The
   * listing's allocation and price are read in the same statement that locks the gateway's rows
   * (read only: listings are their module's), to keep a request's close at one trip.
   */
  private async recordServed(manager: EntityManager, items: CloseRequest[], outcomes: CloseOutcome[]): Promise<void> {
    const perListing = new Map<string, Decimal>();
    items.forEach((item, i) => {
      if (item.listingId && outcomes[i].credits.gt(0)) perListing.set(item.listingId, (perListing.get(item.listingId) ?? new Decimal(0)).plus(outcomes[i].credits));
    });
    if (!perListing.size) return;
    const ids = [...perListing.keys()].sort();
    await manager.query(`INSERT INTO listing_service (listing_id) SELECT unnest($1::uuid[]) ORDER BY 1 ON CONFLICT DO NOTHING`, [ids]);
    const rows: { listing_id: string; served: string; allocated: string; cost: string }[] = await manager.query(
      `SELECT s.listing_id, s.served_credits::text AS served, l.allocated_credits::text AS allocated, l.wholesale_cost_per_credit::text AS cost
         FROM listing_service s JOIN listings l ON l.id = s.listing_id
        WHERE s.listing_id = ANY($1::uuid[]) ORDER BY s.listing_id FOR UPDATE OF s`,
      [ids],
    );
    const overflow = rows.map((r) => {
      const served = new Decimal(r.served);
      const added = perListing.get(r.listing_id)!;
      const allocated = new Decimal(r.allocated);
      const beyond = Decimal.max(served.plus(added).minus(allocated), 0).minus(Decimal.max(served.minus(allocated), 0));
      return { id: r.listing_id, added, beyond, earned: beyond.times(r.cost) };
    });
    await manager.query(
      `UPDATE listing_service s SET served_credits = s.served_credits + x.added, overflow_credits = s.overflow_credits + x.beyond,
              overflow_accrued = s.overflow_accrued + x.earned
         FROM unnest($1::uuid[], $2::numeric[], $3::numeric[], $4::numeric[]) AS x(id, added, beyond, earned)
        WHERE s.listing_id = x.id`,
      [overflow.map((o) => o.id), overflow.map((o) => o.added.toFixed()), overflow.map((o) => o.beyond.toFixed()), overflow.map((o) => o.earned.toFixed())],
    );
  }

  private async recordKeyUsage(manager: EntityManager, items: CloseRequest[], outcomes: CloseOutcome[], now: Date): Promise<void> {
    const perKey = new Map<string, Decimal>();
    items.forEach((item, i) => {
      if (item.apiKeyId && outcomes[i].credits.gt(0)) perKey.set(item.apiKeyId, (perKey.get(item.apiKeyId) ?? new Decimal(0)).plus(outcomes[i].credits));
    });
    if (!perKey.size) return;
    const keys = [...perKey.keys()].sort();
    await manager.query(
      `INSERT INTO api_key_usage (api_key_id, month, credits) SELECT k, $3, c FROM unnest($1::uuid[], $2::numeric[]) AS x(k, c)
       ON CONFLICT (api_key_id, month) DO UPDATE SET credits = api_key_usage.credits + excluded.credits`,
      [keys, keys.map((k) => perKey.get(k)!.toFixed()), monthOf(now)],
    );
  }

  private async writeLog(manager: EntityManager, items: CloseRequest[], outcomes: CloseOutcome[], now: Date): Promise<void> {
    const cols = [
      items.map((i) => i.requestId),
      items.map((i) => i.status),
      items.map((i) => i.attempts),
      items.map((i, k) => (outcomes[k].credits.gt(0) || i.charge ? i.inputTokens : 0)),
      items.map((i, k) => (outcomes[k].credits.gt(0) || i.charge ? i.outputTokens : 0)),
      outcomes.map((o) => o.credits.toFixed()),
      items.map((i) => i.estimated),
      items.map((i) => i.latencyMs),
      items.map((i) => i.ttftMs),
      items.map((i, k) => outcomes[k].uncharged ?? i.errorCode),
      items.map((i) => i.endpointId),
      items.map((i) => i.listingId),
      items.map((i) => i.sellerId),
    ];
    const opened = items.map((i) => i.opened);
    const update = (keep: boolean) => cols.map((c) => c.filter((_, k) => opened[k] === keep));
    const [ids, ...rest] = update(true);
    if (ids.length) {
      await manager.query(
        `UPDATE inference_requests r SET status = x.status, attempts = x.attempts, input_tokens = x.input_tokens,
                output_tokens = x.output_tokens, credits = x.credits, estimated = x.estimated, latency_ms = x.latency_ms,
                ttft_ms = x.ttft_ms, error_code = x.error_code, endpoint_id = x.endpoint_id, listing_id = x.listing_id,
                seller_id = x.seller_id, finished_at = $14
           FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::numeric[], $7::boolean[], $8::int[],
                       $9::int[], $10::text[], $11::uuid[], $12::uuid[], $13::uuid[])
             AS x(id, status, attempts, input_tokens, output_tokens, credits, estimated, latency_ms, ttft_ms, error_code,
                  endpoint_id, listing_id, seller_id)
          WHERE r.id = x.id`,
        [ids, ...rest, now],
      );
    }
    const fresh = items.filter((i) => !i.opened);
    if (fresh.length) {
      const [fids, ...frest] = update(false);
      await manager.query(
        `INSERT INTO inference_requests (id, status, attempts, input_tokens, output_tokens, credits, estimated, latency_ms, ttft_ms,
                error_code, endpoint_id, listing_id, seller_id, organization_id, api_key_id, model, stream, created_at, finished_at)
         SELECT x.*, $18
           FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::numeric[], $7::boolean[], $8::int[],
                       $9::int[], $10::text[], $11::uuid[], $12::uuid[], $13::uuid[], $14::uuid[], $15::uuid[], $16::text[],
                       $17::boolean[], $19::timestamptz[])
             AS x(id, status, attempts, input_tokens, output_tokens, credits, estimated, latency_ms, ttft_ms, error_code,
                  endpoint_id, listing_id, seller_id, organization_id, api_key_id, model, stream, created_at)`,
        [
          fids,
          ...frest,
          fresh.map((i) => i.organizationId),
          fresh.map((i) => i.apiKeyId),
          fresh.map((i) => i.model),
          fresh.map((i) => i.stream),
          now,
          fresh.map((i) => i.startedAt.toISOString()),
        ],
      );
    }
  }
}

/** The first day of `now`'s UTC month, as a date. */
export function monthOf(now: Date): string {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
}
