import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode } from '@ccx/core';
import { Ledger, type TransactionInput } from '@ccx/ledger';
import { commitWith, sendTogether, withTransaction, type BatchResult } from '@ccx/ledger';
import { KeyedGroupCommit } from '../common/group-commit.js';
import { ClockService } from '../clock/clock.service.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { eventCostMicro, MicroBurnDown, microRate, microText, type MicroRate, type Rate } from './domain/usage-rules.js';
import type { ParsedUsageEvent, UsageEventCommand } from './domain/usage-event.js';
import { UsageAccounts, type BuyerCredits } from './usage-accounts.js';
import { AlertsService } from '../alerts/index.js';
import { MetricsService } from '../observability/metrics.service.js';

export type UsageOutcome =
  | { eventId: string; status: 'accepted' | 'duplicate'; credits: string }
  | { eventId: string; status: 'rejected'; code: string; message: string };

/** The most events one buyer's cycle charges together (the batch endpoint's limit). */
const GROUP_COMMIT_MAX = 1000;

/** A named statement: metering sends it on every charge. */
const INSERT_EVENTS = {
  name: 'ccx_usage_insert_events',
  // $14: each event's ledger transaction by its key (null for a free event), read with the ledger's
  // ledger_posted_id once per key (the CTE is materialized): the post may be in the same flight,
  // its id not yet known. A plain scan of the arrays, so rows go in in the request's order.
  text: `WITH posted AS MATERIALIZED (
         SELECT k, ledger_posted_id(k) AS id FROM (SELECT DISTINCT k FROM unnest($14::text[]) AS k WHERE k IS NOT NULL) AS keys
       )
       INSERT INTO usage_events (organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
         input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, ledger_transaction_id)
       SELECT e.org, e.event_id, e.model, e.input_tokens, e.output_tokens, e.gpu_type, e.gpu_seconds,
         e.input_rate, e.output_rate, e.credits_per_gpu_hour, e.credits, e.occurred_at, e.recorded_at,
         (SELECT p.id FROM posted p WHERE p.k = e.ledger_key)
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::numeric[],
         $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::timestamptz[], $13::timestamptz[], $14::text[])
         AS e(org, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
              input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, ledger_key)`,
};


interface Parsed {
  index: number;
  event: ParsedUsageEvent;
}

interface Rated {
  index: number;
  event: ParsedUsageEvent;
  rate: Rate;
  /** The event's cost in micro-credits (usage-rules: eventCostMicro). */
  micro: bigint;
}

/**
 * Metering (SPEC §6, §8): rates events and charges them, all or nothing each, across the buyer's
 * blocks in burn-down order. A batch of any size is one database transaction with a constant
 * number of statements: one call that takes the buyers' locks and reads what the charge judges on
 * (standings, rates, existing events, the first blocks with their balances, alert thresholds), the
 * blocks drawn to nothing marked EXHAUSTED (when there are any), one ledger transaction per buyer
 * (one write), one multi-row insert of the events.
 */
@Injectable()
export class UsageService {
  private readonly logger = new Logger('Usage');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly accounts: UsageAccounts,
    private readonly alerts: AlertsService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Judges each event on its own, in order; answers each as accepted, duplicate or rejected
   * (an event the edge could not parse keeps its own rejection, in its place).
   */
  async record(commands: UsageEventCommand[]): Promise<UsageOutcome[]> {
    const now = this.clock.now();
    const outcomes: (UsageOutcome | null)[] = commands.map(() => null);
    const parsed: Parsed[] = [];
    commands.forEach((c, index) => {
      if (c.ok) parsed.push({ index, event: c.event });
      else outcomes[index] = { eventId: c.eventId, status: 'rejected', code: c.code, message: c.message };
    });

    if (parsed.length) {
      for (const [index, outcome] of await this.chargeIsolated(parsed, now)) outcomes[index] = outcome;
    }
    for (const o of outcomes as UsageOutcome[]) {
      this.metrics.usageEvents.inc({ status: o.status, code: o.status === 'rejected' ? o.code : '' });
    }
    return outcomes as UsageOutcome[];
  }

  /**
   * A batch (POST /v1/usage). Its events go to their buyers' queues, one part per buyer: what
   * arrives for a buyer while its charge runs goes together in its next one (one transaction, one
   * turn of its lock), judged in arrival order exactly as if it came one by one, and buyers' queues
   * run at the same time. A buyer's events never interact with another's (their own credits, their
   * own event ids), so splitting a batch by buyer answers every event as one transaction would —
   * without one transaction holding every buyer's lock while it charges them all, which made a
   * batch spanning 8 buyers wait for all 8 and every single call wait for that batch (the soak's
   * 400 ms). Each event keeps its place in the answer. If a part fails as a whole (its cycle threw:
   * nothing of it was charged), its events are answered INTERNAL_SERVER_ERROR, retry; if every
   * part failed, the first error is thrown (503).
   */
  async recordBatch(commands: UsageEventCommand[]): Promise<UsageOutcome[]> {
    const parts = new Map<string, number[]>();
    commands.forEach((c, i) => {
      // Events the edge could not parse have no buyer: they are answered without the database.
      const key = c.ok ? c.event.organizationId : '';
      const part = parts.get(key);
      if (part) part.push(i);
      else parts.set(key, [i]);
    });
    const submit = (key: string, part: UsageEventCommand[]) => (key ? this.queues.submit(key, part) : this.record(part));
    if (parts.size === 1) return submit([...parts.keys()][0], commands);
    const outcomes = new Array<UsageOutcome>(commands.length);
    const entries = [...parts];
    const settled = await Promise.allSettled(
      entries.map(async ([key, indexes]) => {
        const answers = await submit(key, indexes.map((i) => commands[i]));
        indexes.forEach((i, k) => (outcomes[i] = answers[k]));
      }),
    );
    const failed = entries.filter((_, k) => settled[k].status === 'rejected');
    // As for one transaction: when every buyer's part failed (the database is down), 503.
    if (failed.length && failed.length === entries.filter(([key]) => key !== '').length) {
      throw (settled.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason;
    }
    for (const [, indexes] of failed) {
      for (const i of indexes) {
        const c = commands[i] as Extract<UsageEventCommand, { ok: true }>;
        outcomes[i] = { eventId: c.event.eventId, status: 'rejected', code: ErrorCode.INTERNAL, message: 'this event could not be recorded; nothing was charged, retry it' };
        this.metrics.usageEvents.inc({ status: 'rejected', code: ErrorCode.INTERNAL });
      }
    }
    return outcomes;
  }

  /** One event, through its buyer's queue; a refusal is thrown as its DomainError (GraphQL `recordUsage`). */
  async recordOne(command: UsageEventCommand): Promise<{ eventId: string; credits: string; duplicate: boolean }> {
    const [outcome] = await this.recordBatch([command]);
    if (outcome.status === 'rejected') throw new DomainError(outcome.code as ErrorCode, outcome.message);
    return { eventId: outcome.eventId, credits: outcome.credits, duplicate: outcome.status === 'duplicate' };
  }

  /** One queue per buyer (common/group-commit.ts); a cycle charges up to GROUP_COMMIT_MAX events. */
  private readonly queues = new KeyedGroupCommit<UsageEventCommand, UsageOutcome>((commands) => this.record(commands), GROUP_COMMIT_MAX);

  /**
   * Charges the events in one transaction; if that fails for any reason other than a refusal,
   * each event is charged again in a transaction of its own, so only the faulty one fails (SPEC
   * §8: one event's failure never affects another). When every event fails alike (the database
   * is down), the first error is thrown: the caller answers 503, not a list of rejections.
   */
  private async chargeIsolated(parsed: Parsed[], now: Date): Promise<Map<number, UsageOutcome>> {
    try {
      return await withTransaction(this.dataSource, (manager) => this.charge(manager, parsed, now));
    } catch (error) {
      if (parsed.length === 1 || error instanceof DomainError) throw error;
      const outcomes = new Map<number, UsageOutcome>();
      let firstError: unknown = null;
      for (const p of parsed) {
        try {
          for (const [index, outcome] of await withTransaction(this.dataSource, (manager) => this.charge(manager, [p], now))) outcomes.set(index, outcome);
        } catch (e) {
          firstError ??= e;
          this.logger.error(`usage event ${p.event.eventId} could not be recorded: ${e instanceof Error ? e.message : String(e)}`);
          outcomes.set(p.index, { eventId: p.event.eventId, status: 'rejected', code: ErrorCode.INTERNAL, message: 'this event could not be recorded; nothing was charged, retry it' });
        }
      }
      if ([...outcomes.values()].every((o) => o.status === 'rejected' && o.code === ErrorCode.INTERNAL)) throw firstError;
      return outcomes;
    }
  }

  /**
   * One transaction, every statement named: the begin call (the buyers' locks; who may be charged
   * and at what rate, the duplicates, the first spendable blocks), the burn-down in memory, then
   * its writes. The ledger post comes last but the events' insert: it locks a shard of the
   * platform's consumed account, which every buyer's charge shares, until COMMIT.
   */
  private async charge(manager: EntityManager, parsed: Parsed[], now: Date): Promise<Map<number, UsageOutcome>> {
    // The buyers' credit locks first, then every read this charge judges on: one round trip.
    // Every writer of a buyer's credits (usage, holds, freezes, expiry) takes that lock first, so
    // the duplicate check and the burn-down below see a state nobody else is changing.
    const { checks, existing, first, withThreshold } = await this.accounts.beginChargeInTransaction(manager, parsed.map((p) => p.event), now);
    const rated: Rated[] = [];
    const refused: { p: Parsed; refusal: { code: string; message: string } }[] = [];
    const rates = new Map<string, { rate: Rate; micro: MicroRate }>();
    for (const p of parsed) {
      const refusal = checks.refusal(p.event);
      if (refusal) {
        refused.push({ p, refusal });
        continue;
      }
      // One rate object (and its integer form) per rate card per charge, not per event.
      const q = p.event.quantity;
      const card = q.kind === 'tokens' ? `m:${q.model}` : `g:${q.gpuType}`;
      let prepared = rates.get(card);
      if (!prepared) {
        const rate = checks.rate(p.event);
        prepared = { rate, micro: microRate(rate) };
        rates.set(card, prepared);
      }
      rated.push({ index: p.index, event: p.event, rate: prepared.rate, micro: eventCostMicro(q, prepared.micro) });
    }
    const orgIds = [...new Set(rated.map((r) => r.event.organizationId))].sort();
    const outcomes = new Map<number, UsageOutcome>();
    // A replay gets its first result even if the buyer was suspended (or a rate card removed)
    // since: a gateway retrying a timed-out batch must not be told "refused" for a charged event.
    for (const { p, refusal } of refused) {
      const prior = existing.get(`${p.event.organizationId}|${p.event.eventId}`);
      outcomes.set(
        p.index,
        prior !== undefined
          ? { eventId: p.event.eventId, status: 'duplicate', credits: prior }
          : { eventId: p.event.eventId, status: 'rejected', code: refusal.code, message: refusal.message },
      );
    }
    if (!rated.length) return outcomes;
    // What each buyer's new events can cost at most (in-batch repeats counted too): the blocks
    // read are the first ones in burn-down order that cover it, not every block it has.
    const need = new Map<string, bigint>(orgIds.map((id) => [id, 0n]));
    for (const r of rated) {
      if (!existing.has(`${r.event.organizationId}|${r.event.eventId}`)) need.set(r.event.organizationId, need.get(r.event.organizationId)! + r.micro);
    }
    const credits = await this.accounts.drawableInTransaction(manager, first, need, now);
    const firstInBatch = new Map<string, string>();
    // The burn-down in micro-credits (BigInt: exact, and far cheaper per event than Decimal), one
    // running total per buyer; the blocks' Decimal balances are written back once, at the end.
    const burners = new Map([...credits].map(([id, buyer]) => [id, new MicroBurnDown(buyer.blocks)]));
    // Per buyer: micro-credits drawn from each block account, and the events' total.
    const drawn = new Map<string, { byAccount: Map<string, bigint>; total: bigint }>();
    const rows: { r: Rated; credits: string }[] = [];

    for (const r of rated) {
      const key = `${r.event.organizationId}|${r.event.eventId}`;
      const prior = existing.get(key) ?? firstInBatch.get(key);
      if (prior !== undefined) {
        outcomes.set(r.index, { eventId: r.event.eventId, status: 'duplicate', credits: prior });
        continue;
      }
      const text = microText(r.micro);
      if (r.micro === 0n) {
        // A free event (a zero rate, SPEC §8): accepted at 0.000000, nothing moves in the ledger.
        firstInBatch.set(key, text);
        outcomes.set(r.index, { eventId: r.event.eventId, status: 'accepted', credits: text });
        rows.push({ r, credits: text });
        continue;
      }
      const burner = burners.get(r.event.organizationId)!;
      const draws = burner.draw(r.micro);
      if (!draws) {
        const buyer = credits.get(r.event.organizationId)!;
        // Blocks read because they cover the buyer's whole need cannot run short.
        if (!buyer.complete) throw new Error(`usage burn-down ran short on blocks read to cover ${microText(need.get(buyer.organizationId)!)} credits`);
        burner.writeBack();
        const error = this.accounts.shortfall(buyer, new Decimal(text));
        outcomes.set(r.index, { eventId: r.event.eventId, status: 'rejected', code: error.code, message: error.message });
        continue;
      }
      firstInBatch.set(key, text);
      outcomes.set(r.index, { eventId: r.event.eventId, status: 'accepted', credits: text });
      rows.push({ r, credits: text });
      let sums = drawn.get(r.event.organizationId);
      if (!sums) drawn.set(r.event.organizationId, (sums = { byAccount: new Map<string, bigint>(), total: 0n }));
      for (const d of draws) sums.byAccount.set(d.accountId, (sums.byAccount.get(d.accountId) ?? 0n) + d.micro);
      sums.total += r.micro;
    }
    for (const burner of burners.values()) burner.writeBack();
    if (!rows.length) return outcomes;

    // One balanced ledger transaction per buyer per batch: each block's draws summed, the events'
    // total to the consumed account. Every event row points at it, and the events' credits sum
    // to its amount. Exactly-once per event is the (organization_id, event_id) key, checked above
    // under the buyer's lock. One transaction instead of one per event makes the ledger write
    // ~60× cheaper (docs/BENCHMARKS.md).
    const keyOf = new Map([...drawn.keys()].map((organizationId) => [organizationId, `usage:${organizationId}:batch:${randomUUID()}`]));
    const ledgerItems: TransactionInput[] = [...drawn].map(([organizationId, sums]) => ({
      idempotencyKey: keyOf.get(organizationId)!,
      kind: 'usage',
      metadata: { organizationId, events: rows.filter((x) => x.r.event.organizationId === organizationId).length },
      effectiveAt: now,
      postings: [
        ...[...sums.byAccount].map(([accountId, micro]) => ({ accountId, direction: 'DEBIT' as const, amount: new Decimal(microText(micro)) })),
        { accountId: this.platform.id('consumed'), direction: 'CREDIT' as const, amount: new Decimal(microText(sums.total)) },
      ],
    }));
    await this.accounts.settleInTransaction(manager, credits);
    // Each event row names its buyer's post by key: the insert reads the id with
    // `ledger_posted_id`, which fails (and so rolls the charge back) unless this transaction
    // posted under that key. So the post, the insert and the COMMIT go in one flight.
    const post = await this.ledger.preparePostMany(manager, ledgerItems);
    // The burn-down was computed on locked balances; a refusal here is a bug, not a user error.
    const allPosted = (results: BatchResult[]) => {
      const notPosted = results.find((x) => x.status !== 'accepted');
      if (notPosted) throw new Error(`usage ledger batch refused what the burn-down accepted: ${JSON.stringify(notPosted)}`);
    };
    if (!post.statement) allPosted(post.results([]));
    // A free event has no ledger transaction.
    const insert = { sql: INSERT_EVENTS, params: this.eventParams(rows, rows.map((x) => (x.r.micro === 0n ? null : keyOf.get(x.r.event.organizationId)!)), now) };
    const flight = post.statement ? [post.statement, insert] : [insert];
    // Low-balance alerts and auto-refill jobs are written with the charge (an outbox).
    // Only for a buyer with a threshold (read by the begin call): nothing else can come of a fall.
    const alerting = [...credits.values()].filter((buyer) => withThreshold.has(buyer.organizationId));
    // Nothing to write after the events: the post and the events go with the COMMIT.
    const answers = alerting.length ? await sendTogether(manager, flight) : await commitWith(manager, flight);
    if (post.statement) allPosted(post.results(answers[0]));
    for (const buyer of alerting) {
      if (buyer.complete) {
        await this.alerts.balanceChangedInTransaction(manager, { organizationId: buyer.organizationId, ...this.accounts.availability(buyer), at: now });
        continue;
      }
      // Only the first blocks were read: the totals are summed only for a buyer with a threshold.
      const by = new Decimal(microText(drawn.get(buyer.organizationId)?.total ?? 0n));
      await this.alerts.balanceFellInTransaction(manager, {
        organizationId: buyer.organizationId,
        by,
        after: () => this.accounts.availableInTransaction(manager, buyer.organizationId, now),
        at: now,
      });
    }
    return outcomes;
  }

  /** The events' insert parameters (INSERT_EVENTS), one array per column. */
  private eventParams(rows: { r: Rated; credits: string }[], ledgerKeys: (string | null)[], now: Date): unknown[] {
    const col = <T>(f: (x: { r: Rated; credits: string }) => T) => rows.map(f);
    // Each rate card's figures as text once, not once per event.
    const rateTexts = new Map<Rate, (string | null)[]>();
    const rateText = (x: { r: Rated }, k: number) => {
      let texts = rateTexts.get(x.r.rate);
      if (!texts) {
        const r = x.r.rate;
        texts = r.kind === 'tokens' ? [r.inputPerMillion.toFixed(), r.outputPerMillion.toFixed(), null] : [null, null, r.creditsPerGpuHour.toFixed()];
        rateTexts.set(r, texts);
      }
      return texts[k];
    };
    const recordedAt = now.toISOString();
    const token = (x: { r: Rated }) => (x.r.event.quantity.kind === 'tokens' ? x.r.event.quantity : null);
    const gpu = (x: { r: Rated }) => (x.r.event.quantity.kind === 'gpu' ? x.r.event.quantity : null);
    return [
      col((x) => x.r.event.organizationId),
      col((x) => x.r.event.eventId),
      col((x) => token(x)?.model ?? null),
      col((x) => token(x)?.inputTokens ?? null),
      col((x) => token(x)?.outputTokens ?? null),
      col((x) => gpu(x)?.gpuType ?? null),
      col((x) => gpu(x)?.gpuSeconds.toFixed() ?? null),
      col((x) => rateText(x, 0)),
      col((x) => rateText(x, 1)),
      col((x) => rateText(x, 2)),
      // Stored as before (Decimal's plain text, no trailing zeros: 0.27, 0).
      col((x) => x.credits.replace(/\.?0+$/, '')),
      col((x) => (x.r.event.occurredAt ? x.r.event.occurredAt.toISOString() : recordedAt)),
      col(() => recordedAt),
      ledgerKeys,
    ];
  }
}

export type { BuyerCredits };
