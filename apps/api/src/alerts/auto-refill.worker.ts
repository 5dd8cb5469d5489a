import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { DomainError, ErrorCode, formatAmount } from '@ccx/core';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { CREDIT_SCALE, PRICE_SCALE, USD_SCALE } from '../common/amounts.js';
import { parsePurchaseCommand } from '../purchases/index.js';
import { PurchasesService } from '../purchases/index.js';
import { AlertsService } from './alerts.service.js';
import { AutoRefillJobEntity } from './auto-refill-job.entity.js';
import { AlertKind } from './domain/alert-kind.js';

/** Jobs per runDue call, so one call under constant load still returns. */
const MAX_JOBS_PER_RUN = 100;
/** Unexpected (non-domain) failures of one job before it is given up as FAILED. */
export const MAX_UNEXPECTED_FAILURES = 5;

type Outcome =
  | { kind: 'done'; result: Record<string, unknown>; message: string }
  | { kind: 'failed'; result: Record<string, unknown>; message: string | null }
  | { kind: 'unexpected'; error: string };

/**
 * Runs the auto-refill outbox (SPEC §8: "below a threshold, buy a set number of standard credits
 * from the wallet, within a maxUnitPrice"). Each PENDING job is locked (FOR UPDATE SKIP LOCKED)
 * for as long as it runs, so two workers never run one job at once, and buys through
 * PurchasesService with the idempotency key `auto-refill:<jobId>`: a crash after the purchase but
 * before the job is marked DONE replays the same purchase instead of buying twice.
 *
 * A refusal (DomainError: INSUFFICIENT_FUNDS, PRICE_LIMIT_EXCEEDED, INSUFFICIENT_CAPACITY,
 * FORBIDDEN…) ends the job FAILED with an AUTO_REFILL alert — never retried, since trying again
 * every second would not fix an empty wallet. The next crossing makes a new job.
 */
@Injectable()
export class AutoRefillWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AutoRefill');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly purchases: PurchasesService,
    private readonly alerts: AlertsService,
  ) {}

  onApplicationBootstrap(): void {
    // The same cadence as webhook deliveries: both drain an outbox written by a use case.
    if (this.config.webhookIntervalMs <= 0) return;
    this.timer = setInterval(() => this.tick(), this.config.webhookIntervalMs);
    this.timer.unref();
    this.tick();
  }

  /** Stops the timer and waits for the job in flight, before the database pool closes. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /**
   * Runs every PENDING job once (oldest first) and returns how many it finished or tried. A job
   * that failed unexpectedly (e.g. the database blinked) stays PENDING for the next run, up to
   * MAX_UNEXPECTED_FAILURES times.
   */
  async runDue(): Promise<number> {
    await this.clock.refresh();
    const tried: string[] = [];
    while (tried.length < MAX_JOBS_PER_RUN) {
      const id = await this.runOne(tried);
      if (!id) break;
      tried.push(id);
    }
    return tried.length;
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.runDue()
      .catch((error) => this.logger.error(`auto-refill failed: ${error instanceof Error ? error.message : error}`))
      .finally(() => {
        this.running = null;
      });
  }

  /** Locks one pending job not yet tried in this run, runs it, records the outcome; its id. */
  private async runOne(skip: string[]): Promise<string | null> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      const manager = runner.manager;
      const job = await manager
        .createQueryBuilder(AutoRefillJobEntity, 'j')
        .where(`j.status = 'PENDING'`)
        .andWhere(skip.length ? 'j.id NOT IN (:...skip)' : 'true', { skip })
        .orderBy('j.created_at', 'ASC')
        .addOrderBy('j.id', 'ASC')
        .limit(1)
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .getOne();
      if (!job) {
        await runner.commitTransaction();
        return null;
      }
      // The purchase runs in its own transaction while this one holds the job's lock.
      const outcome = await this.execute(manager, job);
      await this.record(manager, job, outcome);
      await runner.commitTransaction();
      return job.id;
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    } finally {
      await runner.release();
    }
  }

  private async execute(manager: EntityManager, job: AutoRefillJobEntity): Promise<Outcome> {
    const credits = formatAmount(job.credits, CREDIT_SCALE);
    const [state] = await manager.query(
      `SELECT o.status, s.auto_refill_threshold FROM organizations o LEFT JOIN balance_settings s ON s.organization_id = o.id WHERE o.id = $1`,
      [job.organizationId],
    );
    if (!state || state.auto_refill_threshold === null) {
      // Turned off after the crossing: the buyer no longer wants it; nothing to tell them.
      return { kind: 'failed', result: { code: 'DISABLED', reason: 'auto-refill was turned off before the job ran' }, message: null };
    }
    try {
      // SPEC §2: a PENDING or SUSPENDED organization can read but not act, automatically included.
      if (state.status !== 'ACTIVE') throw new DomainError(ErrorCode.FORBIDDEN, `a ${state.status} organization cannot buy credits`);
      const { purchase } = await this.purchases.purchase(parsePurchaseCommand(job.organizationId, {
        credits,
        maxUnitPrice: job.maxUnitPrice ? formatAmount(job.maxUnitPrice, PRICE_SCALE) : null,
        idempotencyKey: `auto-refill:${job.id}`,
      }));
      const unitPrice = formatAmount(purchase.unitPrice, PRICE_SCALE);
      const totalPrice = formatAmount(purchase.totalPrice, USD_SCALE);
      return {
        kind: 'done',
        result: { purchaseId: purchase.id, blockId: purchase.blockId, credits, unitPrice, totalPrice },
        message: `Auto-refill bought ${credits} credits at ${unitPrice} USD per credit (${totalPrice} USD in all).`,
      };
    } catch (error) {
      if (error instanceof DomainError) {
        return {
          kind: 'failed',
          result: { code: error.code, reason: error.message, credits },
          message: `Auto-refill of ${credits} credits failed (${error.code}): ${error.message}`.slice(0, 1000),
        };
      }
      return { kind: 'unexpected', error: error instanceof Error ? error.message : String(error) };
    }
  }

  private async record(manager: EntityManager, job: AutoRefillJobEntity, outcome: Outcome): Promise<void> {
    const now = this.clock.now();
    if (outcome.kind === 'unexpected') {
      this.logger.error(`auto-refill job ${job.id} failed unexpectedly: ${outcome.error}`);
      if (job.attempts + 1 < MAX_UNEXPECTED_FAILURES) {
        await manager.update(AutoRefillJobEntity, { id: job.id }, { attempts: job.attempts + 1 });
        return;
      }
      outcome = {
        kind: 'failed',
        result: { code: ErrorCode.INTERNAL, reason: 'the purchase could not be completed' },
        message: `Auto-refill of ${formatAmount(job.credits, CREDIT_SCALE)} credits failed: the purchase could not be completed.`,
      };
    }
    const status = outcome.kind === 'done' ? 'DONE' : 'FAILED';
    await manager.query(`UPDATE auto_refill_jobs SET status = $2, processed_at = $3, result = $4, attempts = attempts + 1 WHERE id = $1`, [
      job.id,
      status,
      now,
      JSON.stringify(outcome.result),
    ]);
    if (outcome.message) {
      await this.alerts.emitInTransaction(manager, {
        organizationId: job.organizationId,
        kind: AlertKind.AUTO_REFILL,
        message: outcome.message,
        data: { jobId: job.id, status, ...outcome.result },
        at: now,
      });
    }
  }
}
