import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode } from '@ccx/core';
import { Ledger, type Balance } from '@ccx/ledger';
import { CatalogService } from '../catalog/index.js';
import { creditsText, insufficientCredits } from '../common/refusals.js';
import { lockBuyerCredits } from '../credits/index.js';
import { CreditsService, type SpendableBlockRow } from '../credits/index.js';
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
    const orgIds = [...new Set(events.map((e) => e.organizationId))];
    const modelIds = [...new Set(events.flatMap((e) => (e.quantity.kind === 'tokens' ? [e.quantity.model] : [])))];
    const gpuNames = [...new Set(events.flatMap((e) => (e.quantity.kind === 'gpu' ? [e.quantity.gpuType] : [])))];
    // One after another: on a transaction's connection statements queue anyway.
    const orgs = orgIds.length ? await this.organizations.standingsInTransaction(manager, orgIds) : [];
    const models = modelIds.length ? await this.catalog.modelRatesInTransaction(manager, modelIds) : [];
    const gpus = gpuNames.length ? await this.catalog.gpuRatesInTransaction(manager, gpuNames) : [];
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
    for (const b of active) addBlock(result.get(b.organization_id)!, b, balances.get(b.ledger_account_id)!);
    for (const b of frozen) {
      const buyer = result.get(b.organization_id)!;
      buyer.frozen = buyer.frozen.plus(balances.get(b.ledger_account_id)?.posted ?? 0);
    }
    for (const buyer of result.values()) buyer.blocks = burnDownOrder(buyer.blocks);
    return result;
  }

  /**
   * What a charge of `need` micro-credits per buyer draws from: each buyer's first
   * FIRST_BLOCKS spendable blocks in burn-down order when they cover its need (`complete: false`),
   * else everything `spendableInTransaction` reads. Exact either way: a block's available credits
   * are never below zero (block accounts are limited: the ledger refuses an overdraft and a hold
   * beyond them), so blocks that cover the need leave the draws and the refusal the same as the
   * whole set would, and the blocks after them are never drawn from. Two statements however many
   * blocks a buyer has, where reading them all grew with every purchase (the soak's buyers reach
   * thousands). The caller holds the buyers' credit locks.
   */
  async drawableInTransaction(manager: EntityManager, need: Map<string, bigint>, now: Date): Promise<Map<string, BuyerCredits>> {
    const orgIds = [...need.keys()];
    const first = orgIds.length ? await this.credits.firstSpendableBlocksInTransaction(manager, orgIds, now, FIRST_BLOCKS) : [];
    const balances = first.length ? await this.ledger.balances(manager, first.map((b) => b.ledger_account_id)) : new Map<string, Balance>();
    const result = new Map<string, BuyerCredits>();
    for (const id of orgIds) result.set(id, { organizationId: id, blocks: [], start: new Map(), frozen: new Decimal(0), complete: false });
    for (const b of first) addBlock(result.get(b.organization_id)!, b, balances.get(b.ledger_account_id)!);
    const short: string[] = [];
    for (const buyer of result.values()) {
      const covered = buyer.blocks.reduce((sum, b) => sum.plus(b.available), new Decimal(0));
      if (covered.lt(microText(need.get(buyer.organizationId)!))) short.push(buyer.organizationId);
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

/** How many blocks, in burn-down order, a charge reads first (`drawableInTransaction`). */
export const FIRST_BLOCKS = 32;

function addBlock(buyer: BuyerCredits, b: SpendableBlockRow, bal: Balance): void {
  buyer.start.set(b.ledger_account_id, { posted: bal.posted, held: bal.held, available: bal.available });
  buyer.blocks.push({
    blockId: b.id,
    accountId: b.ledger_account_id,
    expiresAt: b.expires_at ? new Date(b.expires_at) : null,
    createdAt: new Date(b.created_at),
    available: bal.available,
  });
}

function buyerRefusal(org: BuyerStanding | null | undefined, id: string): { code: string; message: string } | null {
  if (!org || org.role !== 'BUYER') return { code: ErrorCode.NOT_FOUND, message: `buyer ${id} not found` };
  if (org.status !== 'ACTIVE') return { code: ErrorCode.FORBIDDEN, message: `the buyer is ${org.status} and cannot be charged` };
  return null;
}
