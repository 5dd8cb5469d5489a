import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import { ClockService } from '../clock/clock.service.js';
import { UsageHoldBatchService } from '../usage/index.js';
import { KeyedGroupCommit } from '../common/group-commit.js';
import type { InferenceRequestStatus } from './domain/inference-request.js';

/** The usage module's state of one cycle (its locked balances and what the cycle writes). */
type CycleState = Awaited<ReturnType<UsageHoldBatchService['beginCycle']>>;

/**
 * Cycles of one buyer in flight at once. 2 (the next cycle already waiting on the buyer's lock)
 * cut the wait between cycles but made batches smaller: more transactions and more PostgreSQL
 * CPU per request, which this CPU-bound 2-core machine pays for (docs/BENCHMARKS.md, Gateway).
 */
const CYCLES_IN_FLIGHT = 1;
/** The most requests one cycle opens and closes together. */
const CYCLE_MAX = 500;

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
   * One queue per buyer for holds and captures alike: each cycle is one transaction that takes the
   * buyer's lock once, settles the requests that ended (releasing what they held), then holds for
   * the requests that start. Other buyers never wait for a busy one (see KeyedGroupCommit).
   */
  private readonly cycles = new KeyedGroupCommit<Work, OpenOutcome | CloseOutcome>((items) => this.withTx((m) => this.cycle(m, items)), CYCLE_MAX, CYCLES_IN_FLIGHT, true);

  constructor(
    private readonly dataSource: DataSource,
    private readonly holds: UsageHoldBatchService,
    private readonly clock: ClockService,
  ) {}

  open(request: OpenRequest): Promise<OpenOutcome> {
    return this.cycles.submit(request.organizationId, [{ kind: 'open', request }]).then(([o]) => o as OpenOutcome);
  }

  close(request: CloseRequest): Promise<CloseOutcome> {
    return this.cycles.submit(request.organizationId, [{ kind: 'close', request }]).then(([o]) => o as CloseOutcome);
  }

  private withTx<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    // Correctness rests on the buyer locks, not on the isolation level: no SET TRANSACTION trip.
    return withTransaction(this.dataSource, work, { isolation: 'SERVER_DEFAULT' });
  }

  /**
   * One cycle in four round trips, whatever its size (docs/BENCHMARKS.md, Gateway): the begin
   * call (buyer locks, closing holds locked and released, balances, listings, key usage) with
   * START TRANSACTION, the captures' ledger transaction, the new ledger holds, the end call (every
   * other write) with COMMIT (withTransaction, commitWith). The rules are judged here and in the
   * usage module between those calls.
   */
  private async cycle(manager: EntityManager, items: Work[]): Promise<(OpenOutcome | CloseOutcome)[]> {
    const now = this.clock.now();
    const month = monthOf(now);
    const opens = items.flatMap((w, i) => (w.kind === 'open' ? [{ i, request: w.request }] : []));
    const closes = items.flatMap((w, i) => (w.kind === 'close' ? [{ i, request: w.request }] : []));
    const state = await this.holds.beginCycle(manager, {
      orgIds: items.map((w) => w.request.organizationId),
      captureHoldIds: closes.flatMap(({ request: c }) => (c.charge && c.holdId ? [c.holdId] : [])),
      voidHoldIds: closes.flatMap(({ request: c }) => (!c.charge && c.holdId ? [c.holdId] : [])),
      listingIds: closes.flatMap(({ request: c }) => (c.charge && c.listingId ? [c.listingId] : [])),
      keyIds: opens.flatMap(({ request: o }) => (o.keyLimit !== null && o.apiKeyId ? [o.apiKeyId] : [])),
      month,
      now,
    });
    const out: (OpenOutcome | CloseOutcome)[] = new Array(items.length);
    const closeItems = closes.map((c) => c.request);
    const closeOutcomes = await this.capture(manager, state, closeItems);
    closeOutcomes.forEach((o, k) => (out[closes[k].i] = o));
    const openItems = opens.map((o) => o.request);
    const openOutcomes = await this.hold(manager, state, openItems, closeItems, closeOutcomes);
    openOutcomes.forEach((o, k) => (out[opens[k].i] = o));
    await this.holds.endCycle(manager, state, {
      month,
      listings: this.served(state, closeItems, closeOutcomes),
      keys: keyUsage(closeItems, closeOutcomes),
      ...this.logRows(closeItems, closeOutcomes, openItems, openOutcomes),
    });
    return out;
  }

  private async capture(manager: EntityManager, state: CycleState, items: CloseRequest[]): Promise<CloseOutcome[]> {
    const outcomes: CloseOutcome[] = items.map(() => ({ credits: new Decimal(0), uncharged: null }));
    const toCapture = items.flatMap((item, i) => (item.charge ? [{ i, item }] : []));
    if (!toCapture.length) return outcomes;
    const captured = await this.holds.captureInCycle(
      manager,
      state,
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
    );
    captured.forEach((c, k) => {
      outcomes[toCapture[k].i] = c.ok ? { credits: c.credits, uncharged: null } : { credits: new Decimal(0), uncharged: c.code };
    });
    return outcomes;
  }

  private async hold(manager: EntityManager, state: CycleState, items: OpenRequest[], closed: CloseRequest[], closedOutcomes: CloseOutcome[]): Promise<OpenOutcome[]> {
    const keyRoom = this.keyRoom(state, items, closed, closedOutcomes);
    const outcomes: (OpenOutcome | null)[] = items.map((item) => {
      if (item.keyLimit === null || item.apiKeyId === null) return null;
      const room = keyRoom.get(item.apiKeyId)!;
      if (room.lt(item.hold)) return { ok: false, code: 'INSUFFICIENT_CREDITS', available: Decimal.max(room, 0), limitSource: 'key' };
      keyRoom.set(item.apiKeyId, room.minus(item.hold));
      return null;
    });
    const toHold = items.flatMap((item, i) => (outcomes[i] ? [] : [{ i, item }]));
    const held = toHold.length
      ? await this.holds.holdInCycle(
          manager,
          state,
          toHold.map(({ item }) => ({ organizationId: item.organizationId, eventId: item.requestId, credits: item.hold })),
        )
      : [];
    held.forEach((h, k) => {
      const { i, item } = toHold[k];
      outcomes[i] = h.ok ? { ok: true, holdId: h.holdId } : { ok: false, code: h.code, available: h.available, limitSource: 'balance' };
      // The key's room was reserved before the balance said no: give it back.
      if (!h.ok && item.keyLimit !== null && item.apiKeyId) keyRoom.set(item.apiKeyId, keyRoom.get(item.apiKeyId)!.plus(item.hold));
    });
    return outcomes as OpenOutcome[];
  }

  /**
   * Per limited key: limit − charged this month − holds of its requests in flight, as they stand
   * after this cycle's closes (read before them, under the buyer's lock: each close adds what it
   * charged to the month and takes its RUNNING row's hold out of the requests in flight).
   */
  private keyRoom(state: CycleState, items: OpenRequest[], closed: CloseRequest[], closedOutcomes: CloseOutcome[]): Map<string, Decimal> {
    const limits = new Map<string, Decimal>();
    for (const i of items) if (i.apiKeyId && i.keyLimit) limits.set(i.apiKeyId, i.keyLimit);
    const room = new Map(state.keys.filter((r) => limits.has(r.key)).map((r) => [r.key, limits.get(r.key)!.minus(r.used).minus(r.running)]));
    closed.forEach((c, k) => {
      if (!c.apiKeyId || !room.has(c.apiKeyId)) return;
      let r = room.get(c.apiKeyId)!.minus(closedOutcomes[k].credits);
      if (c.opened) r = r.plus(c.hold);
      room.set(c.apiKeyId, r);
    });
    return room;
  }

  /**
   * Served credits per listing, and what a listing serves beyond its allocation earns its seller
   * `wholesaleCostPerCredit` per credit from the platform (SPEC §12), accrued here exactly, from
   * the rows the begin call locked (with the listing's allocation and price, read only).
   */
  private served(state: CycleState, items: CloseRequest[], outcomes: CloseOutcome[]) {
    const perListing = new Map<string, Decimal>();
    items.forEach((item, i) => {
      if (item.listingId && outcomes[i].credits.gt(0)) perListing.set(item.listingId, (perListing.get(item.listingId) ?? new Decimal(0)).plus(outcomes[i].credits));
    });
    return state.listings
      .filter((r) => perListing.has(r.id))
      .map((r) => {
        const served = new Decimal(r.served);
        const added = perListing.get(r.id)!;
        const allocated = new Decimal(r.allocated);
        const beyond = Decimal.max(served.plus(added).minus(allocated), 0).minus(Decimal.max(served.minus(allocated), 0));
        return { id: r.id, added: added.toFixed(), beyond: beyond.toFixed(), earned: beyond.times(r.cost).toFixed() };
      });
  }

  /**
   * The request log rows of the cycle: requests that end (an update of their RUNNING row, or a
   * row of their own), refusals (final) and RUNNING rows of requests that start on a limited key
   * (their holds count against its limit while they run). Other requests get their row when they
   * end: one write per request instead of two.
   */
  private logRows(closed: CloseRequest[], closedOutcomes: CloseOutcome[], opened: OpenRequest[], openedOutcomes: OpenOutcome[]) {
    const row = (i: CloseRequest, o: CloseOutcome) => ({
      id: i.requestId,
      status: i.status,
      attempts: i.attempts,
      input_tokens: o.credits.gt(0) || i.charge ? i.inputTokens : 0,
      output_tokens: o.credits.gt(0) || i.charge ? i.outputTokens : 0,
      credits: o.credits.toFixed(),
      estimated: i.estimated,
      latency_ms: i.latencyMs,
      ttft_ms: i.ttftMs,
      error_code: o.uncharged ?? i.errorCode,
      endpoint_id: i.endpointId,
      listing_id: i.listingId,
      seller_id: i.sellerId,
    });
    const finish = closed.flatMap((i, k) => (i.opened ? [row(i, closedOutcomes[k])] : []));
    const fresh = closed.flatMap((i, k) =>
      i.opened
        ? []
        : [{ ...row(i, closedOutcomes[k]), organization_id: i.organizationId, api_key_id: i.apiKeyId, model: i.model, stream: i.stream, created_at: i.startedAt.toISOString() }],
    );
    const started = opened.flatMap((item, k) => {
      const o = openedOutcomes[k];
      if (o.ok && item.keyLimit === null) return [];
      return [
        {
          id: item.requestId,
          org: item.organizationId,
          key: item.apiKeyId,
          model: item.model,
          status: o.ok ? 'RUNNING' : 'REFUSED',
          held: o.ok ? item.hold.toFixed() : '0',
          stream: item.stream,
          err: o.ok ? null : o.limitSource === 'key' ? 'key_limit_exceeded' : o.code.toLowerCase(),
        },
      ];
    });
    return { finish, fresh, started };
  }
}

/** Credits charged per API key in the cycle (its monthly usage). */
function keyUsage(items: CloseRequest[], outcomes: CloseOutcome[]) {
  const perKey = new Map<string, Decimal>();
  items.forEach((item, i) => {
    if (item.apiKeyId && outcomes[i].credits.gt(0)) perKey.set(item.apiKeyId, (perKey.get(item.apiKeyId) ?? new Decimal(0)).plus(outcomes[i].credits));
  });
  return [...perKey.keys()].sort().map((key) => ({ key, credits: perKey.get(key)!.toFixed() }));
}

/** The first day of `now`'s UTC month, as a date. */
export function monthOf(now: Date): string {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
}
