import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Decimal, ErrorCode } from '@ccx/core';
import { Ledger, commitWith, namedRows, type HoldInput, type NamedSql, type TransactionInput } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId } from '../common/ids.js';
import { AlertsService } from '../alerts/index.js';
import { burnDownOrder, drawCredits, eventCost, type Rate } from './domain/usage-rules.js';
import { UsageAccounts, type BuyerCredits } from './usage-accounts.js';
import type { ParsedUsageEvent } from './domain/usage-event.js';

/** One hold to place: `credits` is an upper bound of a call's cost (0: a free call, no hold). */
export interface HoldRequest {
  organizationId: string;
  eventId: string;
  credits: Decimal;
}

export type HoldOutcome =
  | { ok: true; holdId: string | null; credits: Decimal }
  | { ok: false; code: 'INSUFFICIENT_CREDITS' | 'CREDITS_FROZEN'; message: string; available: Decimal };

/** What a held call used, to be charged at the model's rate card, never above `cap`. */
export interface CaptureRequest {
  holdId: string | null;
  organizationId: string;
  eventId: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  /** The hold's amount: the charge never exceeds it (SPEC §12). */
  cap: Decimal;
  occurredAt: Date;
  /**
   * The model's rate card as the caller read it when the call began (the price of the call);
   * when absent, it is read now.
   */
  rate?: { inputPerMillion: Decimal; outputPerMillion: Decimal } | null;
}

export type CaptureOutcome =
  | { ok: true; credits: Decimal; capped: boolean }
  | { ok: false; code: string; message: string };

/**
 * Holds and captures of many concurrent calls in one database transaction (SPEC §12: the
 * per-request bookkeeping must not serialize a buyer's concurrent requests). The caller owns the
 * transaction, so it writes its own rows (the gateway's request log, a listing's served credits)
 * in the same commit. Each request is judged on its own, in order: one refusal never fails another.
 *
 * A cycle is four round trips however many calls it carries (docs/BENCHMARKS.md, Gateway): the
 * begin call (buyer locks; the closing holds locked and their legs released; balances read),
 * the captures' ledger transaction (one per buyer, like metering: the released amount always
 * covers the charge because the charge never exceeds the hold), the new ledger holds, the end
 * call (every other write). The rules (rating, burn-down, refusals) are judged here in between,
 * on the balances the begin call read under the buyers' locks.
 */
@Injectable()
export class UsageHoldBatchService {
  constructor(
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly accounts: UsageAccounts,
    private readonly alerts: AlertsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The gateway's cycle, first call (`gateway_cycle_begin`, migration 1763700000018): one round
   * trip takes the buyers' locks, locks the closing holds and releases their legs (the ones ending
   * without a charge become VOIDED), and reads the buyers' blocks with their balances after that
   * release, their alert thresholds, and the gateway's listings and keys. The captures and holds
   * of the cycle are then judged here (`captureInCycle`, `holdInCycle`) and written by `endCycle`.
   */
  async beginCycle(
    manager: EntityManager,
    input: { orgIds: string[]; captureHoldIds: string[]; voidHoldIds: string[]; listingIds: string[]; keyIds: string[]; month: string; now: Date },
  ): Promise<CycleState> {
    const orgIds = [...new Set(input.orgIds)].sort();
    const [row]: { doc: BeginDocument }[] = await manager.query(
      `SELECT gateway_cycle_begin($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::date, $7::timestamptz) AS doc`,
      [orgIds, input.captureHoldIds, input.voidHoldIds, [...new Set(input.listingIds)].sort(), [...new Set(input.keyIds)], input.month, input.now],
    );
    const doc = row.doc;
    const credits = new Map<string, BuyerCredits>();
    for (const id of orgIds) credits.set(id, { organizationId: id, blocks: [], start: new Map(), frozen: new Decimal(0), complete: true });
    for (const b of doc.blocks) {
      const buyer = credits.get(b.org)!;
      if (b.status === 'FROZEN') {
        buyer.frozen = buyer.frozen.plus(b.posted ?? 0);
        continue;
      }
      const posted = new Decimal(b.posted!);
      const held = new Decimal(b.held!);
      const available = posted.minus(held);
      buyer.start.set(b.account, { posted, held, available });
      buyer.blocks.push({ blockId: b.id, accountId: b.account, expiresAt: b.expires ? new Date(b.expires) : null, createdAt: new Date(b.created), available });
    }
    for (const buyer of credits.values()) buyer.blocks = burnDownOrder(buyer.blocks);
    const holdById = new Map(doc.holds.map((h) => [h.id, h]));
    const releasedByOrg = new Map<string, Decimal>();
    for (const r of doc.released) {
      const org = holdById.get(r.hold)?.org;
      if (org) releasedByOrg.set(org, (releasedByOrg.get(org) ?? new Decimal(0)).plus(r.amount));
    }
    const before = new Map([...credits.values()].map((b) => [b.organizationId, sumAvailable(b)]));
    return {
      now: input.now,
      credits,
      holdById,
      releasedByOrg,
      settings: new Map(doc.settings.map((s) => [s.org, { low: s.low === null ? null : new Decimal(s.low), refillAt: s.refillAt === null ? null : new Decimal(s.refillAt) }])),
      listings: doc.listings,
      keys: doc.keys,
      beforeCapture: before,
      afterCapture: new Map(before),
      events: [],
      captured: [],
      voided: [],
      exhausted: [],
      holds: [],
      holdExpires: null,
    };
  }

  /**
   * Judges the cycle's captures on the balances `beginCycle` read (the same rules as
   * `captureManyInTransaction`: never above the hold, the rate card the call began with, burn-down
   * order, a refusal only when the held block was frozen or expired) and posts their ledger
   * transaction, one per buyer: one round trip. Call before `holdInCycle`.
   */
  async captureInCycle(manager: EntityManager, state: CycleState, captures: CaptureRequest[]): Promise<CaptureOutcome[]> {
    const now = state.now;
    const outcomes: (CaptureOutcome | null)[] = captures.map((c) => {
      const hold = c.holdId ? state.holdById.get(c.holdId) : null;
      if (c.holdId && (!hold || hold.org !== c.organizationId)) return { ok: false, code: ErrorCode.NOT_FOUND, message: `hold ${c.holdId} not found` };
      if (hold && hold.status !== 'OPEN' && hold.status !== 'EXPIRED') return { ok: false, code: ErrorCode.INVALID_STATE, message: `the hold is ${hold.status}` };
      return null;
    });
    const events: ParsedUsageEvent[] = captures.map((c) => ({
      organizationId: c.organizationId,
      eventId: c.eventId,
      quantity: { kind: 'tokens', model: c.model, inputTokens: c.inputTokens, outputTokens: c.outputTokens },
      occurredAt: c.occurredAt,
    }));
    const rates = captures.some((c) => !c.rate) ? await this.accounts.checkBuyersAndRatesInTransaction(manager, events) : null;
    const drawn = new Map<string, { byAccount: Map<string, Decimal>; total: Decimal }>();
    const charged: { index: number; rate: Rate | null; cost: Decimal }[] = [];
    captures.forEach((c, index) => {
      if (outcomes[index]) return;
      const rate: Rate | null = c.rate
        ? { kind: 'tokens', inputPerMillion: c.rate.inputPerMillion, outputPerMillion: c.rate.outputPerMillion }
        : rates!.refusal(events[index])?.code === ErrorCode.NOT_FOUND
          ? null
          : rates!.rate(events[index]);
      const actual = rate ? eventCost(events[index].quantity, rate) : c.cap;
      const capped = actual.gt(c.cap);
      const cost = capped ? c.cap : actual;
      if (cost.isZero()) {
        charged.push({ index, rate, cost });
        outcomes[index] = { ok: true, credits: cost, capped };
        return;
      }
      const buyer = state.credits.get(c.organizationId)!;
      const draws = drawCredits(buyer.blocks, cost);
      if (!draws) {
        const error = this.accounts.shortfall(buyer, cost);
        outcomes[index] = { ok: false, code: error.code, message: error.message };
        return;
      }
      const sums = drawn.get(c.organizationId) ?? { byAccount: new Map<string, Decimal>(), total: new Decimal(0) };
      for (const d of draws) sums.byAccount.set(d.accountId, (sums.byAccount.get(d.accountId) ?? new Decimal(0)).plus(d.credits));
      sums.total = sums.total.plus(cost);
      drawn.set(c.organizationId, sums);
      charged.push({ index, rate, cost });
      outcomes[index] = { ok: true, credits: cost, capped };
    });

    const txByBuyer = new Map<string, string>();
    if (drawn.size) {
      const buyers = [...drawn.keys()];
      const results = await this.ledger.postMany(
        manager,
        buyers.map((organizationId): TransactionInput => {
          const sums = drawn.get(organizationId)!;
          return {
            idempotencyKey: `usage:${organizationId}:capture:${randomUUID()}`,
            kind: 'usage',
            metadata: { organizationId, captures: charged.filter((x) => captures[x.index].organizationId === organizationId).length },
            effectiveAt: now,
            postings: [
              ...[...sums.byAccount].map(([accountId, amount]) => ({ accountId, direction: 'DEBIT' as const, amount })),
              { accountId: this.platform.id('consumed'), direction: 'CREDIT' as const, amount: sums.total },
            ],
          };
        }),
      );
      const refused = results.find((x) => x.status !== 'accepted');
      if (refused) throw new Error(`capture ledger batch refused what the burn-down accepted: ${JSON.stringify(refused)}`);
      buyers.forEach((id, i) => txByBuyer.set(id, (results[i] as { transactionId: string }).transactionId));
    }
    const tokenRate = (x: { rate: Rate | null }) => (x.rate?.kind === 'tokens' ? x.rate : null);
    for (const x of charged) {
      const c = captures[x.index];
      state.events.push({
        org: c.organizationId,
        event: c.eventId,
        model: c.model,
        input: c.inputTokens,
        output: c.outputTokens,
        in_rate: tokenRate(x)?.inputPerMillion.toFixed() ?? null,
        out_rate: tokenRate(x)?.outputPerMillion.toFixed() ?? null,
        credits: x.cost.toFixed(),
        occurred: c.occurredAt.toISOString(),
        hold: c.holdId,
        tx: x.cost.isZero() ? null : txByBuyer.get(c.organizationId)!,
      });
    }
    captures.forEach((c, i) => {
      if (!c.holdId) return;
      if (outcomes[i]!.ok) state.captured.push(c.holdId);
      else if (state.holdById.get(c.holdId)?.status === 'OPEN') state.voided.push(c.holdId);
    });
    // Blocks the captures drew to nothing, with nothing held: EXHAUSTED (settleInTransaction's rule).
    for (const buyer of state.credits.values()) {
      for (const b of buyer.blocks) {
        const start = buyer.start.get(b.accountId)!;
        const used = start.available.minus(b.available);
        if (used.gt(0) && start.posted.minus(used).isZero() && start.held.isZero()) state.exhausted.push(b.blockId);
      }
      state.afterCapture.set(buyer.organizationId, sumAvailable(buyer));
    }
    return outcomes as CaptureOutcome[];
  }

  /**
   * Judges the cycle's new holds on the balances the captures left (burn-down order, each request
   * on its own, in order) and creates their ledger holds in one round trip; their usage holds are
   * written by `endCycle`.
   */
  async holdInCycle(manager: EntityManager, state: CycleState, requests: HoldRequest[]): Promise<HoldOutcome[]> {
    const now = state.now;
    const expiresAt = new Date(now.getTime() + this.config.rules.usage.holdMinutes * 60_000);
    const legs: HoldInput[] = [];
    const holds: { id: string; request: HoldRequest; legs: number[] }[] = [];
    const outcomes: HoldOutcome[] = [];
    for (const request of requests) {
      if (request.credits.isZero()) {
        outcomes.push({ ok: true, holdId: null, credits: request.credits });
        continue;
      }
      const buyer = state.credits.get(request.organizationId)!;
      const draws = drawCredits(buyer.blocks, request.credits);
      if (!draws) {
        const error = this.accounts.shortfall(buyer, request.credits);
        outcomes.push({ ok: false, code: error.code as 'INSUFFICIENT_CREDITS' | 'CREDITS_FROZEN', message: error.message, available: sumAvailable(buyer) });
        continue;
      }
      const id = newId();
      const legIndexes: number[] = [];
      draws.forEach((d, n) => {
        legIndexes.push(legs.length);
        legs.push({
          idempotencyKey: `usage-hold:${id}:${n}`,
          debitAccountId: d.accountId,
          creditAccountId: this.platform.id('consumed'),
          amount: d.credits,
          expiresAt,
          metadata: { usageHoldId: id, organizationId: request.organizationId, eventId: request.eventId },
        });
      });
      holds.push({ id, request, legs: legIndexes });
      outcomes.push({ ok: true, holdId: id, credits: request.credits });
    }
    if (holds.length) {
      const created = await this.ledger.createHoldsInOneStatement(manager, legs);
      state.holdExpires = expiresAt;
      for (const h of holds) {
        state.holds.push({
          id: h.id,
          org: h.request.organizationId,
          event: h.request.eventId,
          credits: h.request.credits.toFixed(),
          legs: h.legs.map((i) => created[i]).join(','),
        });
      }
    }
    return outcomes;
  }

  /**
   * Writes the cycle (`gateway_cycle_end`): the usage part gathered in `state` and the caller's
   * part (`extra`: listings, keys, request log), in one round trip; then tells the alerts module
   * of each buyer's fall, only where it may cross a threshold the begin call read.
   */
  async endCycle(manager: EntityManager, state: CycleState, extra: Record<string, unknown>): Promise<void> {
    const doc = {
      now: state.now.toISOString(),
      events: state.events,
      captured: state.captured,
      voided: state.voided,
      exhausted: state.exhausted,
      holds: state.holds,
      holdExpires: state.holdExpires?.toISOString() ?? null,
      ...extra,
    };
    const falls: { organizationId: string; before: Decimal; after: Decimal }[] = [];
    for (const buyer of state.credits.values()) {
      const org = buyer.organizationId;
      const settings = state.settings.get(org);
      if (!settings) continue;
      const afterHolds = sumAvailable(buyer);
      const steps: [Decimal, Decimal][] = [
        // A capture: "before" is what was available while its hold stood.
        [state.beforeCapture.get(org)!.minus(state.releasedByOrg.get(org) ?? 0), state.afterCapture.get(org)!],
        [state.afterCapture.get(org)!, afterHolds],
      ];
      for (const [before, after] of steps) {
        const mayCross = (t: Decimal | null) => t !== null && before.gte(t) && after.lt(t);
        if (after.lt(before) && (mayCross(settings.low) || mayCross(settings.refillAt))) falls.push({ organizationId: org, before, after });
      }
    }
    const end = { sql: CYCLE_END, params: [JSON.stringify(doc)] };
    if (!falls.length) {
      // The cycle's last write: it goes with the COMMIT, one round trip for both.
      await commitWith(manager, [end]);
      return;
    }
    await namedRows(manager, end.sql, end.params);
    for (const fall of falls) await this.alerts.balanceChangedInTransaction(manager, { ...fall, at: state.now });
  }
}

/** The buyers' state inside one gateway cycle (see `UsageHoldBatchService.beginCycle`). */
export interface CycleState {
  now: Date;
  credits: Map<string, BuyerCredits>;
  holdById: Map<string, { id: string; org: string; status: string }>;
  releasedByOrg: Map<string, Decimal>;
  settings: Map<string, { low: Decimal | null; refillAt: Decimal | null }>;
  /** The gateway's part of the begin document: listings locked, key usage. */
  listings: { id: string; served: string; allocated: string; cost: string }[];
  keys: { key: string; used: string; running: string }[];
  /** Available credits per buyer before the captures (after the release) and after them. */
  beforeCapture: Map<string, Decimal>;
  afterCapture: Map<string, Decimal>;
  events: Record<string, unknown>[];
  captured: string[];
  voided: string[];
  exhausted: string[];
  holds: { id: string; org: string; event: string; credits: string; legs: string }[];
  holdExpires: Date | null;
}

interface BeginDocument {
  holds: { id: string; org: string; status: string }[];
  released: { hold: string; amount: string }[];
  blocks: { id: string; org: string; status: string; expires: string | null; created: string; account: string; posted: string | null; held: string | null }[];
  settings: { org: string; low: string | null; refillAt: string | null }[];
  listings: { id: string; served: string; allocated: string; cost: string }[];
  keys: { key: string; used: string; running: string }[];
}

/** The cycle's last call (migration 1763700000018), a named statement: parsed once per connection. */
const CYCLE_END: NamedSql = { name: 'ccx_gateway_cycle_end', text: 'SELECT gateway_cycle_end($1::jsonb)' };

const sumAvailable = (buyer: BuyerCredits) => buyer.blocks.reduce((s, b) => s.plus(b.available), new Decimal(0));
