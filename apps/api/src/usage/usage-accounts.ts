import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode, formatAmount } from '@ccx/core';
import { Ledger, namedRows } from '@ccx/ledger';
import { CatalogService } from '../catalog/index.js';
import { creditsText, insufficientCredits } from '../common/refusals.js';
import { lockBuyerCredits } from '../credits/index.js';
import { CreditsService } from '../credits/index.js';
import { OrganizationsService } from '../organizations/index.js';
import { burnDownOrder, microText, type Rate, type SpendableBlock } from './domain/usage-rules.js';
import type { ParsedUsageEvent } from './domain/usage-event.js';

/** A buyer's spendable credits inside one usage transaction (balances locked). */
export interface BuyerCredits {
  organizationId: string;
  /** ACTIVE, unexpired blocks in burn-down order; `available` goes down as events draw. */
  blocks: SpendableBlock[];
  /** posted and held of each block at lock time. */
  start: Map<string, { posted: Decimal; held: Decimal; available: Decimal }>;
  frozen: Decimal;
  /**
   * Every spendable block was read (and the frozen credits): totals, shortfalls and `availability`
   * are exact. False when only the first blocks in burn-down order were read, enough to cover the
   * charge (`drawableInTransaction`).
   */
  complete: boolean;
}

export interface BuyerChecks {
  refusal(event: ParsedUsageEvent): { code: string; message: string } | null;
  rate(event: ParsedUsageEvent): Rate;
}

/** What `beginChargeInTransaction` read for one charge, under the buyers' credit locks. */
export interface ChargeStart {
  checks: BuyerChecks;
  /** Events already charged: `${organizationId}|${eventId}` → their credits (6 decimals). */
  existing: Map<string, string>;
  /** Each buyer's first spendable blocks in burn-down order, up to FIRST_BLOCKS (`complete: false`). */
  first: Map<string, BuyerCredits>;
  /** Buyers with a low-balance or auto-refill threshold: the alerts module judges only their falls. */
  withThreshold: Set<string>;
}

/** What metering needs to know of an organization (its table is the organizations module's). */
interface BuyerStanding {
  id: string;
  role: string;
  status: string;
}

/**
 * The buyer-side reads and locks of metering, shared by events and holds. Buyers, rate cards and
 * blocks are read through their owners' services, in the caller's transaction, with the same
 * statements as before: the hot path makes no extra round trip.
 */
@Injectable()
export class UsageAccounts {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly organizations: OrganizationsService,
    private readonly catalog: CatalogService,
    private readonly credits: CreditsService,
  ) {}

  /** Serializes everything that changes a buyer's credits (see credits/buyer-lock.ts). */
  lockBuyerInTransaction(manager: EntityManager, organizationId: string): Promise<void> {
    return lockBuyerCredits(manager, organizationId);
  }

  /** Refuses anything but an ACTIVE buyer (SPEC §8: SUSPENDED buyers are refused). */
  async checkBuyer(organizationId: string): Promise<void> {
    const [org] = await this.organizations.findManyInTransaction(this.dataSource.manager, [organizationId]);
    const refused = buyerRefusal(org, organizationId);
    if (refused) throw new DomainError(refused.code as ErrorCode, refused.message);
  }

  /**
   * Who may be charged (an ACTIVE buyer) and at what rate, for a set of events: up to three
   * named reads. Inside a transaction pass its manager (never take a second pool connection
   * while locked).
   */
  async checkBuyersAndRatesInTransaction(manager: EntityManager, events: ParsedUsageEvent[]): Promise<BuyerChecks> {
    const { orgIds, modelIds, gpuNames } = subjects(events);
    // One after another: on a transaction's connection statements queue anyway.
    const orgs = orgIds.length ? await this.organizations.standingsInTransaction(manager, orgIds) : [];
    const models = modelIds.length ? await this.catalog.modelRatesInTransaction(manager, modelIds) : [];
    const gpus = gpuNames.length ? await this.catalog.gpuRatesInTransaction(manager, gpuNames) : [];
    return buyerChecks(orgs, models, gpus);
  }

  /**
   * A charge's locked reads in one round trip (`usage_charge_begin`, migration 1763700000020):
   * the buyers' credit locks (id order), who may be charged and at what rate, the events already
   * charged, each buyer's first spendable blocks in burn-down order with their balances (as many
   * as cover what its events could cost at most, up to FIRST_BLOCKS), and which buyers have an
   * alert threshold. Seven round trips before, each waiting
   * its turn on a busy event loop while the buyer's lock was held (docs/BENCHMARKS.md, Soak).
   */
  async beginChargeInTransaction(manager: EntityManager, events: ParsedUsageEvent[], now: Date): Promise<ChargeStart> {
    const { orgIds, modelIds, gpuNames } = subjects(events);
    const token = (e: ParsedUsageEvent) => (e.quantity.kind === 'tokens' ? e.quantity : null);
    const gpu = (e: ParsedUsageEvent) => (e.quantity.kind === 'gpu' ? e.quantity : null);
    const [{ doc }] = await namedRows<{ doc: ChargeBeginDocument }>(manager, CHARGE_BEGIN, [
      orgIds.sort(),
      modelIds,
      gpuNames,
      events.map((e) => e.organizationId),
      events.map((e) => e.eventId),
      events.map((e) => token(e)?.model ?? null),
      events.map((e) => token(e)?.inputTokens ?? null),
      events.map((e) => token(e)?.outputTokens ?? null),
      events.map((e) => gpu(e)?.gpuType ?? null),
      events.map((e) => gpu(e)?.gpuSeconds.toFixed() ?? null),
      now,
      FIRST_BLOCKS,
    ]);
    const checks = buyerChecks(
      doc.orgs,
      doc.models.map((m) => ({ id: m.id, inputPerMillion: new Decimal(m.input), outputPerMillion: new Decimal(m.output) })),
      doc.gpus.map((g) => ({ name: g.name, creditsPerGpuHour: new Decimal(g.rate) })),
    );
    const existing = new Map(doc.existing.map((e) => [`${e.org}|${e.id}`, formatAmount(e.credits, 6)]));
    const first = new Map<string, BuyerCredits>();
    for (const id of orgIds) first.set(id, { organizationId: id, blocks: [], start: new Map(), frozen: new Decimal(0), complete: false });
    for (const b of doc.blocks) {
      // A block account without a balance row has never been posted to.
      addBlock(first.get(b.org)!, { id: b.id, account: b.account, expires: b.expires, created: b.created }, new Decimal(b.posted ?? 0), new Decimal(b.held ?? 0));
    }
    const withThreshold = new Set(doc.settings.filter((x) => x.low !== null || x.refillAt !== null).map((x) => x.org));
    return { checks, existing, first, withThreshold };
  }

  /**
   * The buyers' spendable blocks with their balances, and their frozen credits. Expired-but-not-
   * yet-swept blocks are not spendable. The caller holds the buyers' credit locks
   * (credits/buyer-lock.ts), which serialize every change to a buyer's blocks (usage, holds,
   * freezes, recoveries, expiry; a delivery creates a new block), so these balances cannot change
   * underneath it, and the ledger's post locks the rows it writes and refuses an overdraft anyway.
   * Locking every active block's balance row here as well cost one row lock each per charge: the
   * soak's buyers reach ~1,100 active blocks (one per purchase) and only one or two are drawn.
   */
  async spendableInTransaction(manager: EntityManager, orgIds: string[], now: Date): Promise<Map<string, BuyerCredits>> {
    const blocks = await this.credits.spendableBlocksInTransaction(manager, orgIds, now);
    const active = blocks.filter((b) => b.status === 'ACTIVE');
    const frozen = blocks.filter((b) => b.status === 'FROZEN');
    const balances = blocks.length ? await this.ledger.balances(manager, blocks.map((b) => b.ledger_account_id)) : new Map();
    const result = new Map<string, BuyerCredits>();
    for (const id of orgIds) result.set(id, { organizationId: id, blocks: [], start: new Map(), frozen: new Decimal(0), complete: true });
    for (const b of active) {
      const bal = balances.get(b.ledger_account_id)!;
      addBlock(result.get(b.organization_id)!, { id: b.id, account: b.ledger_account_id, expires: b.expires_at, created: b.created_at }, bal.posted, bal.held);
    }
    for (const b of frozen) {
      const buyer = result.get(b.organization_id)!;
      buyer.frozen = buyer.frozen.plus(balances.get(b.ledger_account_id)?.posted ?? 0);
    }
    for (const buyer of result.values()) buyer.blocks = burnDownOrder(buyer.blocks);
    return result;
  }

  /**
   * What a charge of `need` micro-credits per buyer draws from: each buyer's `first` blocks (its
   * first spendable ones in burn-down order, `beginChargeInTransaction`) when they cover its need
   * (`complete: false`), else everything `spendableInTransaction` reads. Exact
   * either way: a block's available credits are never below zero (block accounts are limited: the
   * ledger refuses an overdraft and a hold beyond them), so blocks that cover the need leave the
   * draws and the refusal the same as the whole set would, and the blocks after them are never
   * drawn from. No round trip however many blocks a buyer has, where reading them all grew with
   * every purchase (the soak's buyers reach thousands). The caller holds the buyers' credit locks.
   */
  async drawableInTransaction(manager: EntityManager, first: Map<string, BuyerCredits>, need: Map<string, bigint>, now: Date): Promise<Map<string, BuyerCredits>> {
    const result = new Map<string, BuyerCredits>();
    const short: string[] = [];
    for (const [id, micro] of need) {
      const buyer = first.get(id)!;
      result.set(id, buyer);
      const covered = buyer.blocks.reduce((sum, b) => sum.plus(b.available), new Decimal(0));
      if (covered.lt(microText(micro))) short.push(id);
      else buyer.blocks = burnDownOrder(buyer.blocks);
    }
    if (short.length) for (const [id, buyer] of await this.spendableInTransaction(manager, short, now)) result.set(id, buyer);
    return result;
  }

  /** A buyer's available credits now: the sum over every spendable block (in the caller's transaction). */
  async availableInTransaction(manager: EntityManager, organizationId: string, now: Date): Promise<Decimal> {
    const buyer = (await this.spendableInTransaction(manager, [organizationId], now)).get(organizationId)!;
    return buyer.blocks.reduce((sum, b) => sum.plus(b.available), new Decimal(0));
  }

  /** Available credits of a buyer as `spendable` read them (before) and as they are now (after). */
  availability(buyer: BuyerCredits): { before: Decimal; after: Decimal } {
    let before = new Decimal(0);
    for (const s of buyer.start.values()) before = before.plus(s.available);
    const after = buyer.blocks.reduce((sum, b) => sum.plus(b.available), new Decimal(0));
    return { before, after };
  }

  /** After charging: blocks with nothing left (and nothing held) become EXHAUSTED. */
  async settleInTransaction(manager: EntityManager, credits: Map<string, BuyerCredits>): Promise<void> {
    const exhausted: string[] = [];
    for (const buyer of credits.values()) {
      for (const b of buyer.blocks) {
        const start = buyer.start.get(b.accountId)!;
        const drawn = start.available.minus(b.available);
        if (drawn.gt(0) && start.posted.minus(drawn).isZero() && start.held.isZero()) exhausted.push(b.blockId);
      }
    }
    await this.credits.markExhaustedInTransaction(manager, exhausted);
  }

  /** Refuses a charge the way SPEC §8 says: CREDITS_FROZEN when frozen credits would have covered it. */
  shortfall(buyer: BuyerCredits, cost: Decimal): DomainError {
    const available = buyer.blocks.reduce((s, b) => s.plus(b.available), new Decimal(0));
    return available.plus(buyer.frozen).gte(cost)
      ? new DomainError(
          ErrorCode.CREDITS_FROZEN,
          `the buyer has ${creditsText(Decimal.max(available, 0))} available and ${creditsText(buyer.frozen)} frozen; this event costs ${creditsText(cost)}`,
        )
      : insufficientCredits(available, 'this event costs', cost);
  }
}

/** The most blocks, in burn-down order, a charge reads before it reads them all (`drawableInTransaction`). */
export const FIRST_BLOCKS = 32;

function addBlock(buyer: BuyerCredits, b: { id: string; account: string; expires: string | Date | null; created: string | Date }, posted: Decimal, held: Decimal): void {
  const available = posted.minus(held);
  buyer.start.set(b.account, { posted, held, available });
  buyer.blocks.push({ blockId: b.id, accountId: b.account, expiresAt: b.expires ? new Date(b.expires) : null, createdAt: new Date(b.created), available });
}

/** The buyers, models and GPU types a set of events names (each once). */
function subjects(events: ParsedUsageEvent[]): { orgIds: string[]; modelIds: string[]; gpuNames: string[] } {
  return {
    orgIds: [...new Set(events.map((e) => e.organizationId))],
    modelIds: [...new Set(events.flatMap((e) => (e.quantity.kind === 'tokens' ? [e.quantity.model] : [])))],
    gpuNames: [...new Set(events.flatMap((e) => (e.quantity.kind === 'gpu' ? [e.quantity.gpuType] : [])))],
  };
}

/** Who may be charged (an ACTIVE buyer) and at what rate, from the rows read. */
function buyerChecks(
  orgs: BuyerStanding[],
  models: { id: string; inputPerMillion: Decimal; outputPerMillion: Decimal }[],
  gpus: { name: string; creditsPerGpuHour: Decimal }[],
): BuyerChecks {
  const orgById = new Map(orgs.map((o) => [o.id, o]));
  const modelById = new Map(models.map((m) => [m.id, m]));
  const gpuByName = new Map(gpus.map((g) => [g.name, g]));
  return {
    refusal(event) {
      const refused = buyerRefusal(orgById.get(event.organizationId), event.organizationId);
      if (refused) return refused;
      const q = event.quantity;
      if (q.kind === 'tokens' && !modelById.has(q.model)) return { code: ErrorCode.NOT_FOUND, message: `model ${q.model} has no rate card` };
      if (q.kind === 'gpu' && !gpuByName.has(q.gpuType)) return { code: ErrorCode.NOT_FOUND, message: `GPU type ${q.gpuType} is not in the catalog` };
      return null;
    },
    rate(event) {
      const q = event.quantity;
      if (q.kind === 'tokens') {
        const m = modelById.get(q.model)!;
        return { kind: 'tokens', inputPerMillion: m.inputPerMillion, outputPerMillion: m.outputPerMillion };
      }
      return { kind: 'gpu', creditsPerGpuHour: gpuByName.get(q.gpuType)!.creditsPerGpuHour };
    },
  };
}

/** `usage_charge_begin`: a named statement, sent on every charge. */
const CHARGE_BEGIN = {
  name: 'ccx_usage_charge_begin',
  text: `SELECT usage_charge_begin($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[],
       $10::numeric[], $11::timestamptz, $12::int) AS doc`,
};

/** What `usage_charge_begin` returns (numbers as text). */
interface ChargeBeginDocument {
  orgs: BuyerStanding[];
  models: { id: string; input: string; output: string }[];
  gpus: { name: string; rate: string }[];
  existing: { org: string; id: string; credits: string }[];
  blocks: { id: string; org: string; expires: string | null; created: string; account: string; posted: string | null; held: string | null }[];
  settings: { org: string; low: string | null; refillAt: string | null }[];
}

function buyerRefusal(org: BuyerStanding | null | undefined, id: string): { code: string; message: string } | null {
  if (!org || org.role !== 'BUYER') return { code: ErrorCode.NOT_FOUND, message: `buyer ${id} not found` };
  if (org.status !== 'ACTIVE') return { code: ErrorCode.FORBIDDEN, message: `the buyer is ${org.status} and cannot be charged` };
  return null;
}
