import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Decimal, ErrorCode } from '@ccx/core';
import { Ledger, type HoldInput, type TransactionInput } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId } from '../common/ids.js';
import { AlertsService } from '../alerts/index.js';
import { drawCredits, eventCost, type Rate } from './domain/usage-rules.js';
import { UsageAccounts, type BuyerCredits } from './usage-accounts.js';
import type { ParsedUsageEvent } from './domain/usage-event.js';

/** The buyers whose credit lock a transaction's manager already holds (advisory xact locks). */
const LOCKED = Symbol('ccx:locked-buyers');

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

interface HoldRow {
  id: string;
  organization_id: string;
  status: string;
  ledger_hold_ids: (string | number)[];
}

/**
 * Holds and captures of many concurrent calls in one database transaction (SPEC §12: the
 * per-request bookkeeping must not serialize a buyer's concurrent requests). The caller owns the
 * transaction, so it can write its own rows (the gateway's request log, a listing's served credits)
 * in the same commit. Each request is judged on its own, in order: one refusal never fails another.
 *
 * A capture releases the hold's pending legs and charges the actual cost from the same balances
 * under the same buyer lock, as one ledger transaction per buyer per batch (like metering); the
 * released amount always covers the charge because the charge never exceeds the hold.
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
   * Takes each buyer's credit lock, in id order. A transaction remembers the buyers it locked,
   * so a caller that locked them first (the gateway, to judge key limits) costs no second trip.
   */
  async lockBuyersInTransaction(manager: EntityManager, organizationIds: string[]): Promise<void> {
    const held = ((manager as { [LOCKED]?: Set<string> })[LOCKED] ??= new Set<string>());
    for (const id of [...new Set(organizationIds)].sort()) {
      if (held.has(id)) continue;
      await this.accounts.lockBuyerInTransaction(manager, id);
      held.add(id);
    }
  }

  async authorizeManyInTransaction(manager: EntityManager, requests: HoldRequest[], now: Date): Promise<HoldOutcome[]> {
    const orgIds = [...new Set(requests.map((r) => r.organizationId))].sort();
    await this.lockBuyersInTransaction(manager, orgIds);
    const credits = await this.accounts.spendableInTransaction(manager, orgIds, now);
    const expiresAt = new Date(now.getTime() + this.config.rules.usage.holdMinutes * 60_000);
    const legs: HoldInput[] = [];
    const holds: { id: string; request: HoldRequest; legs: number[] }[] = [];
    const outcomes: HoldOutcome[] = [];
    for (const request of requests) {
      if (request.credits.isZero()) {
        outcomes.push({ ok: true, holdId: null, credits: request.credits });
        continue;
      }
      const buyer = credits.get(request.organizationId)!;
      const draws = drawCredits(buyer.blocks, request.credits);
      if (!draws) {
        const error = this.accounts.shortfall(buyer, request.credits);
        const available = buyer.blocks.reduce((s, b) => s.plus(b.available), new Decimal(0));
        outcomes.push({ ok: false, code: error.code as 'INSUFFICIENT_CREDITS' | 'CREDITS_FROZEN', message: error.message, available });
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
      const created = await this.ledger.createHolds(manager, legs);
      await manager.query(
        `INSERT INTO usage_holds (id, organization_id, event_id, credits, status, expires_at, ledger_hold_ids, created_at)
         SELECT id, org, ev, cr, 'OPEN', $5, string_to_array(legs, ',')::bigint[], $6
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::numeric[], $7::text[]) AS x(id, org, ev, cr, legs)`,
        [
          holds.map((h) => h.id),
          holds.map((h) => h.request.organizationId),
          holds.map((h) => h.request.eventId),
          holds.map((h) => h.request.credits.toFixed()),
          expiresAt,
          now,
          holds.map((h) => h.legs.map((i) => created[i].id).join(',')),
        ],
      );
    }
    // A hold lowers what is available: it can cross a low-balance threshold (SPEC §8).
    for (const buyer of credits.values()) {
      await this.alerts.balanceChangedInTransaction(manager, { organizationId: buyer.organizationId, ...this.accounts.availability(buyer), at: now });
    }
    return outcomes;
  }

  async captureManyInTransaction(manager: EntityManager, captures: CaptureRequest[], now: Date): Promise<CaptureOutcome[]> {
    const orgIds = [...new Set(captures.map((c) => c.organizationId))].sort();
    await this.lockBuyersInTransaction(manager, orgIds);
    const holdIds = captures.flatMap((c) => (c.holdId ? [c.holdId] : [])).sort();
    const holdRows: HoldRow[] = holdIds.length
      ? await manager.query(`SELECT id, organization_id, status, ledger_hold_ids FROM usage_holds WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [holdIds])
      : [];
    const holdById = new Map(holdRows.map((h) => [h.id, h]));
    const outcomes: (CaptureOutcome | null)[] = captures.map((c) => {
      const hold = c.holdId ? holdById.get(c.holdId) : null;
      if (c.holdId && (!hold || hold.organization_id !== c.organizationId)) return { ok: false, code: ErrorCode.NOT_FOUND, message: `hold ${c.holdId} not found` };
      // An EXPIRED hold (a call longer than the hold's life) released its legs already: the
      // charge then comes from what is available, like any event.
      if (hold && hold.status !== 'OPEN' && hold.status !== 'EXPIRED') return { ok: false, code: ErrorCode.INVALID_STATE, message: `the hold is ${hold.status}` };
      return null;
    });
    const live = holdRows.filter((h) => h.status === 'OPEN');
    const released = await this.ledger.voidHolds(manager, live.flatMap((h) => h.ledger_hold_ids.map(String)), now);
    const releasedByOrg = new Map<string, Decimal>();
    const orgOfHold = new Map(live.map((h) => [h.id, h.organization_id]));
    for (const leg of released) {
      const org = orgOfHold.get(String(leg.metadata.usageHoldId));
      if (org) releasedByOrg.set(org, (releasedByOrg.get(org) ?? new Decimal(0)).plus(leg.amount));
    }

    const events: ParsedUsageEvent[] = captures.map((c) => ({
      organizationId: c.organizationId,
      eventId: c.eventId,
      quantity: { kind: 'tokens', model: c.model, inputTokens: c.inputTokens, outputTokens: c.outputTokens },
      occurredAt: c.occurredAt,
    }));
    const needRates = captures.some((c) => !c.rate);
    const rates = needRates ? await this.accounts.checkBuyersAndRatesInTransaction(manager, events) : null;
    const credits = await this.accounts.spendableInTransaction(manager, orgIds, now);
    const drawn = new Map<string, { byAccount: Map<string, Decimal>; total: Decimal }>();
    const charged: { index: number; rate: Rate | null; cost: Decimal }[] = [];
    captures.forEach((c, index) => {
      if (outcomes[index]) return;
      // The rate card the call began with (or as it is now); a model removed from the catalog
      // mid-call is charged its bound.
      const rate: Rate | null = c.rate
        ? { kind: 'tokens', inputPerMillion: c.rate.inputPerMillion, outputPerMillion: c.rate.outputPerMillion }
        : rates!.refusal(events[index])?.code === ErrorCode.NOT_FOUND
          ? null
          : rates!.rate(events[index]);
      const actual = rate ? eventCost(events[index].quantity, rate) : c.cap;
      const capped = actual.gt(c.cap);
      const cost = capped ? c.cap : actual;
      if (cost.isZero()) {
        // Free (a zero rate, or nothing used): an event of 0.000000, nothing moves in the ledger.
        charged.push({ index, rate, cost });
        outcomes[index] = { ok: true, credits: cost, capped };
        return;
      }
      const buyer = credits.get(c.organizationId)!;
      const draws = drawCredits(buyer.blocks, cost);
      if (!draws) {
        // Only when the held block was frozen or expired during the call (its hold released).
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
      // The draws were computed on locked balances: a refusal here is a bug, not a user error.
      if (refused) throw new Error(`capture ledger batch refused what the burn-down accepted: ${JSON.stringify(refused)}`);
      buyers.forEach((id, i) => txByBuyer.set(id, (results[i] as { transactionId: string }).transactionId));
    }
    await this.insertEvents(manager, captures, charged, txByBuyer, now);

    const capturedIds = captures.flatMap((c, i) => (c.holdId && outcomes[i]?.ok ? [c.holdId] : []));
    const voidedIds = captures.flatMap((c, i) => (c.holdId && holdById.has(c.holdId) && outcomes[i] && !outcomes[i]!.ok && holdById.get(c.holdId)!.status === 'OPEN' ? [c.holdId] : []));
    if (capturedIds.length) await manager.query(`UPDATE usage_holds SET status = 'CAPTURED', resolved_at = $2 WHERE id = ANY($1::uuid[])`, [capturedIds, now]);
    if (voidedIds.length) await manager.query(`UPDATE usage_holds SET status = 'VOIDED', resolved_at = $2 WHERE id = ANY($1::uuid[])`, [voidedIds, now]);
    await this.accounts.settleInTransaction(manager, credits);
    for (const buyer of credits.values()) {
      // "Before" is what was available while the holds stood: a capture never lowers it below that.
      const { after } = this.accounts.availability(buyer);
      const before = this.availableAtStart(buyer).minus(releasedByOrg.get(buyer.organizationId) ?? 0);
      await this.alerts.balanceChangedInTransaction(manager, { organizationId: buyer.organizationId, before, after, at: now });
    }
    return outcomes as CaptureOutcome[];
  }

  /** Releases calls that failed before any charge (OPEN holds only; others are left alone). */
  async voidManyInTransaction(manager: EntityManager, holds: { holdId: string; organizationId: string }[], now: Date): Promise<void> {
    if (!holds.length) return;
    await this.lockBuyersInTransaction(manager, holds.map((h) => h.organizationId));
    const rows: HoldRow[] = await manager.query(
      `SELECT id, organization_id, status, ledger_hold_ids FROM usage_holds WHERE id = ANY($1::uuid[]) AND status = 'OPEN' ORDER BY id FOR UPDATE`,
      [holds.map((h) => h.holdId)],
    );
    await this.ledger.voidHolds(manager, rows.flatMap((h) => h.ledger_hold_ids.map(String)), now);
    if (rows.length) await manager.query(`UPDATE usage_holds SET status = 'VOIDED', resolved_at = $2 WHERE id = ANY($1::uuid[])`, [rows.map((r) => r.id), now]);
  }

  private availableAtStart(buyer: BuyerCredits): Decimal {
    let total = new Decimal(0);
    for (const s of buyer.start.values()) total = total.plus(s.available);
    return total;
  }

  private async insertEvents(
    manager: EntityManager,
    captures: CaptureRequest[],
    charged: { index: number; rate: Rate | null; cost: Decimal }[],
    txByBuyer: Map<string, string>,
    now: Date,
  ): Promise<void> {
    if (!charged.length) return;
    const c = (x: { index: number }) => captures[x.index];
    const tokenRate = (x: { rate: Rate | null }) => (x.rate?.kind === 'tokens' ? x.rate : null);
    await manager.query(
      `INSERT INTO usage_events (organization_id, event_id, model, input_tokens, output_tokens, input_rate, output_rate,
         credits, occurred_at, recorded_at, hold_id, ledger_transaction_id)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::numeric[], $7::numeric[],
         $8::numeric[], $9::timestamptz[], $10::timestamptz[], $11::uuid[], $12::bigint[])`,
      [
        charged.map((x) => c(x).organizationId),
        charged.map((x) => c(x).eventId),
        charged.map((x) => c(x).model),
        charged.map((x) => c(x).inputTokens),
        charged.map((x) => c(x).outputTokens),
        charged.map((x) => tokenRate(x)?.inputPerMillion.toFixed() ?? null),
        charged.map((x) => tokenRate(x)?.outputPerMillion.toFixed() ?? null),
        charged.map((x) => x.cost.toFixed()),
        charged.map((x) => c(x).occurredAt.toISOString()),
        charged.map(() => now.toISOString()),
        charged.map((x) => c(x).holdId),
        charged.map((x) => (x.cost.isZero() ? null : txByBuyer.get(c(x).organizationId)!)),
      ],
    );
  }
}
