import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, DomainError, ErrorCode, InvalidStateError, NotFoundError, formatAmount } from '@ccx/core';
import { Ledger, withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId } from '../common/ids.js';
import { drawCredits, eventCost } from './domain/usage-rules.js';
import type { ParsedUsageEvent } from './domain/usage-event.js';
import type { AuthorizeUsageCommand, CaptureUsageCommand, UsageHoldStatus } from './domain/usage-hold.js';
import { UsageAccounts } from './usage-accounts.js';
import { AlertsService } from '../alerts/index.js';
import { CreditsService } from '../credits/index.js';


export interface UsageHoldView {
  id: string;
  organizationId: string;
  eventId: string;
  credits: string;
  status: UsageHoldStatus;
  expiresAt: Date;
}

interface HoldRow {
  id: string;
  organization_id: string;
  event_id: string;
  credits: string;
  status: UsageHoldStatus;
  expires_at: Date;
  ledger_hold_ids: string[];
}

/**
 * Usage holds (SPEC §8): a gateway authorizes an estimated cost before a call (it counts against
 * `available`, one ledger hold per block in burn-down order), then captures the actual cost
 * (the rest is released; more only if the extra is available) or voids it. Holds expire after
 * `usage.holdMinutes` of business time. A hold leg on a block that gets frozen or expires is
 * released by the ledger; capture then uses the legs still pending plus available credits.
 */
@Injectable()
export class UsageHoldsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly platform: PlatformAccounts,
    private readonly clock: ClockService,
    private readonly accounts: UsageAccounts,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly alerts: AlertsService,
    private readonly credits: CreditsService,
  ) {}

  async authorize(command: AuthorizeUsageCommand): Promise<UsageHoldView> {
    const { organizationId, eventId, credits } = command;
    await this.accounts.checkBuyer(organizationId);

    return withTransaction(this.dataSource, async (manager) => {
      await this.accounts.lockBuyerInTransaction(manager, organizationId);
      const [prior] = await manager.query(`SELECT * FROM usage_holds WHERE organization_id = $1 AND event_id = $2`, [organizationId, eventId]);
      if (prior) {
        if (!new Decimal(prior.credits).eq(credits)) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_CONFLICT, `eventId ${eventId} already has a hold for a different amount`);
        }
        return this.view(manager, prior as HoldRow);
      }
      // The buyer's event ids, every month's (usage_events is partitioned by month; its keys are not).
      const [charged] = await manager.query(`SELECT 1 FROM usage_event_keys WHERE organization_id = $1 AND event_id = $2`, [organizationId, eventId]);
      if (charged) throw new InvalidStateError(`event ${eventId} has already been charged`);
      const now = this.clock.now();
      const buyer = (await this.accounts.spendableInTransaction(manager, [organizationId], now)).get(organizationId)!;
      const draws = drawCredits(buyer.blocks, credits);
      if (!draws) throw this.accounts.shortfall(buyer, credits);
      const id = newId();
      const expiresAt = new Date(now.getTime() + this.config.rules.usage.holdMinutes * 60_000);
      const ledgerHolds: string[] = [];
      for (const [n, d] of draws.entries()) {
        const hold = await this.ledger.createHold(manager, {
          idempotencyKey: `usage-hold:${id}:${n}`,
          debitAccountId: d.accountId,
          creditAccountId: this.platform.id('consumed'),
          amount: d.credits,
          expiresAt,
          metadata: { usageHoldId: id, organizationId, eventId },
        });
        ledgerHolds.push(hold.id);
      }
      // A hold lowers what is available: it can cross a low-balance threshold too.
      await this.alerts.balanceChangedInTransaction(manager, { organizationId, ...this.accounts.availability(buyer), at: now });
      const [row] = await manager.query(
        `INSERT INTO usage_holds (id, organization_id, event_id, credits, status, expires_at, ledger_hold_ids, created_at)
         VALUES ($1, $2, $3, $4, 'OPEN', $5, $6::bigint[], $7) RETURNING *`,
        [id, organizationId, eventId, credits.toFixed(), expiresAt, ledgerHolds, now],
      );
      return this.view(manager, row);
    });
  }

  /** Charges the actual cost of the held call as a usage event (eventId of the hold). */
  async capture(command: CaptureUsageCommand): Promise<{ eventId: string; credits: string; duplicate: boolean }> {
    const { holdId } = command;
    return withTransaction(this.dataSource, async (manager) => {
      const hold = await this.lockHold(manager, holdId);
      await this.accounts.lockBuyerInTransaction(manager, hold.organization_id);
      if (hold.status === 'CAPTURED') {
        // The capture's event has the hold's buyer and event id: one probe of the keys' primary key.
        const [event] = await manager.query(`SELECT credits::text AS credits FROM usage_event_keys WHERE organization_id = $1 AND event_id = $2`, [
          hold.organization_id,
          hold.event_id,
        ]);
        return { eventId: hold.event_id, credits: formatAmount(event.credits, 6), duplicate: true };
      }
      const now = this.clock.now();
      if (hold.status !== 'OPEN') throw new InvalidStateError(`the hold is ${hold.status}`);
      if (new Date(hold.expires_at).getTime() <= now.getTime()) throw new InvalidStateError('the hold has expired');
      if (!command.usage.ok) throw command.usage.error;
      const event: ParsedUsageEvent = { organizationId: hold.organization_id, eventId: hold.event_id, quantity: command.usage.quantity, occurredAt: command.usage.occurredAt };
      // Checked under the buyer lock, which recordUsage also takes: the same event is never charged twice.
      const [charged] = await manager.query(`SELECT 1 FROM usage_event_keys WHERE organization_id = $1 AND event_id = $2`, [hold.organization_id, hold.event_id]);
      if (charged) throw new InvalidStateError(`event ${hold.event_id} has already been charged`);
      // Read in this transaction: a pool connection taken while holding the buyer lock can starve.
      const checks = await this.accounts.checkBuyersAndRatesInTransaction(manager, [event]);
      const refused = checks.refusal(event);
      if (refused) throw new DomainError(refused.code as ErrorCode, refused.message);
      const rate = checks.rate(event);
      const cost = eventCost(event.quantity, rate);

      // Post the still-pending legs in burn-down order up to the cost; release the rest.
      let left = cost;
      const txIds: string[] = [];
      const live = await this.liveBlockAccounts(manager, hold.organization_id, now);
      for (const legId of hold.ledger_hold_ids) {
        const leg = await this.ledger.hold(manager, legId);
        if (leg.status !== 'PENDING') continue;
        // SPEC §6: an expired block is never consumed, even before servicing sweeps it.
        if (!live.has(leg.debitAccountId)) {
          await this.ledger.voidHold(manager, leg.id, now);
          continue;
        }
        const take = Decimal.min(leg.amount, left);
        if (take.gt(0)) {
          const { transaction } = await this.ledger.postHold(manager, { holdId: leg.id, amount: take, kind: 'usage', effectiveAt: now, metadata: { usageHoldId: hold.id } });
          txIds.push(transaction.id);
          left = left.minus(take);
        } else {
          await this.ledger.voidHold(manager, leg.id, now);
        }
      }
      if (left.gt(0)) {
        // More than was held: only if the extra is available now (else nothing changes).
        const buyer = (await this.accounts.spendableInTransaction(manager, [hold.organization_id], now)).get(hold.organization_id)!;
        const draws = drawCredits(buyer.blocks, left);
        if (!draws) throw this.accounts.shortfall(buyer, left);
        const tx = await this.ledger.post(manager, {
          idempotencyKey: `usage-hold:${hold.id}:extra`,
          kind: 'usage',
          metadata: { usageHoldId: hold.id, organizationId: hold.organization_id, eventId: hold.event_id },
          effectiveAt: now,
          postings: [
            ...draws.map((d) => ({ accountId: d.accountId, direction: 'DEBIT' as const, amount: d.credits })),
            { accountId: this.platform.id('consumed'), direction: 'CREDIT', amount: left },
          ],
        });
        txIds.push(tx.id);
        await this.accounts.settleInTransaction(manager, new Map([[hold.organization_id, buyer]]));
        await this.alerts.balanceChangedInTransaction(manager, { organizationId: hold.organization_id, ...this.accounts.availability(buyer), at: now });
      }
      const q = event.quantity;
      await manager.query(
        `INSERT INTO usage_events (organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
           input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at, hold_id, ledger_transaction_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          hold.organization_id,
          hold.event_id,
          q.kind === 'tokens' ? q.model : null,
          q.kind === 'tokens' ? q.inputTokens : null,
          q.kind === 'tokens' ? q.outputTokens : null,
          q.kind === 'gpu' ? q.gpuType : null,
          q.kind === 'gpu' ? q.gpuSeconds.toFixed() : null,
          rate.kind === 'tokens' ? rate.inputPerMillion.toFixed() : null,
          rate.kind === 'tokens' ? rate.outputPerMillion.toFixed() : null,
          rate.kind === 'gpu' ? rate.creditsPerGpuHour.toFixed() : null,
          cost.toFixed(),
          event.occurredAt ?? now,
          now,
          hold.id,
          txIds[0] ?? null,
        ],
      );
      await manager.query(`UPDATE usage_holds SET status = 'CAPTURED', resolved_at = $2 WHERE id = $1`, [hold.id, now]);
      await this.exhaustEmptied(manager, hold.organization_id);
      return { eventId: hold.event_id, credits: formatAmount(cost, 6), duplicate: false };
    });
  }

  async void(id: string): Promise<UsageHoldView> {
    return withTransaction(this.dataSource, async (manager) => {
      const hold = await this.lockHold(manager, id);
      await this.accounts.lockBuyerInTransaction(manager, hold.organization_id);
      if (hold.status === 'VOIDED') return this.view(manager, hold);
      if (hold.status !== 'OPEN') throw new InvalidStateError(`the hold is ${hold.status}`);
      const now = this.clock.now();
      await this.releaseLegs(manager, hold, now);
      // (TypeORM answers an UPDATE … RETURNING with [rows, count], so no RETURNING here.)
      await manager.query(`UPDATE usage_holds SET status = 'VOIDED', resolved_at = $2 WHERE id = $1`, [hold.id, now]);
      return this.view(manager, { ...hold, status: 'VOIDED' });
    });
  }

  /** Servicing: OPEN holds past their deadline release their legs and become EXPIRED. */
  async expireDue(now: Date): Promise<number> {
    const due: { id: string }[] = await this.dataSource.query(`SELECT id FROM usage_holds WHERE status = 'OPEN' AND expires_at <= $1 ORDER BY id`, [now]);
    for (const { id } of due) {
      await withTransaction(this.dataSource, async (manager) => {
        const hold = await this.lockHold(manager, id);
        if (hold.status !== 'OPEN') return;
        await this.accounts.lockBuyerInTransaction(manager, hold.organization_id);
        await this.releaseLegs(manager, hold, new Date(hold.expires_at));
        await manager.query(`UPDATE usage_holds SET status = 'EXPIRED', resolved_at = $2 WHERE id = $1`, [hold.id, hold.expires_at]);
      });
    }
    return due.length;
  }

  private async releaseLegs(manager: EntityManager, hold: HoldRow, at: Date): Promise<void> {
    for (const legId of hold.ledger_hold_ids) {
      const leg = await this.ledger.hold(manager, legId);
      if (leg.status === 'PENDING') await this.ledger.voidHold(manager, leg.id, at);
    }
  }

  /** Ledger accounts of the buyer's blocks that may be consumed now: ACTIVE and not past expiry. */
  private async liveBlockAccounts(manager: EntityManager, organizationId: string, now: Date): Promise<Set<string>> {
    const blocks = await this.credits.spendableBlocksInTransaction(manager, [organizationId], now);
    return new Set(blocks.filter((b) => b.status === 'ACTIVE').map((b) => b.ledger_account_id));
  }

  /**
   * The buyer's ACTIVE blocks with nothing left and nothing held become EXHAUSTED. Balances come
   * through the ledger's API (its tables are its own), for this buyer's blocks only.
   */
  private async exhaustEmptied(manager: EntityManager, organizationId: string): Promise<void> {
    const blocks = await this.credits.activeBlocksInTransaction(manager, organizationId);
    if (!blocks.length) return;
    const balances = await this.ledger.balances(manager, blocks.map((b) => b.account));
    const empty = blocks.filter((b) => {
      const bal = balances.get(b.account);
      return bal !== undefined && bal.posted.isZero() && bal.held.isZero();
    });
    await this.credits.markExhaustedInTransaction(manager, empty.map((b) => b.id));
  }

  private async lockHold(manager: EntityManager, id: string): Promise<HoldRow> {
    const [row] = await manager.query(`SELECT * FROM usage_holds WHERE id = $1 FOR UPDATE`, [id]);
    if (!row) throw new NotFoundError(`hold ${id} not found`);
    return { ...row, ledger_hold_ids: (row.ledger_hold_ids as (string | number)[]).map(String) };
  }

  /** A hold as shown: an OPEN hold whose deadline has passed is EXPIRED even before servicing. */
  private async view(_manager: EntityManager, row: HoldRow): Promise<UsageHoldView> {
    const expired = row.status === 'OPEN' && new Date(row.expires_at).getTime() <= this.clock.now().getTime();
    return {
      id: row.id,
      organizationId: row.organization_id,
      eventId: row.event_id,
      credits: formatAmount(row.credits, 6),
      status: expired ? 'EXPIRED' : row.status,
      expiresAt: new Date(row.expires_at),
    };
  }
}
