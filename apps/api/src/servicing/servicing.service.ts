import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Ledger, withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { CreditsService } from '../credits/index.js';
import { ListingsService } from '../listings/index.js';
import { ReservationsService } from '../reservations/index.js';
import { FacilityLifecycleService } from '../facilities/index.js';
import { UsageHoldsService } from '../usage/index.js';
import { GatewayServicingService } from '../gateway/index.js';
import { AlertsService } from '../alerts/index.js';
import { MetricsService } from '../observability/metrics.service.js';
import { ensureMonthlyPartitions } from '../database/monthly-partitions.js';

export interface ServicingReport {
  at: Date;
  ran: boolean;
  listingsExpired: number;
  deliveries: number;
  facilitiesMoved: number;
  blocksExpired: number;
  holdsExpired: number;
}

/** Session-level advisory lock: one servicing runner at a time across every API process. */
const SERVICING_LOCK = 'ccx:servicing';

/**
 * The servicing run (SPEC §9): expires listings, delivers reservations, moves facilities between
 * statuses (freezing on default), expires blocks and holds.
 * Every step writes with deterministic idempotency keys and state guards, so running twice for
 * the same instant changes nothing the second time.
 */
@Injectable()
export class ServicingService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Servicing');
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly ledger: Ledger,
    private readonly listings: ListingsService,
    private readonly reservations: ReservationsService,
    private readonly credits: CreditsService,
    private readonly facilities: FacilityLifecycleService,
    private readonly usageHolds: UsageHoldsService,
    private readonly metrics: MetricsService,
    private readonly gateway: GatewayServicingService,
    private readonly alerts: AlertsService,
  ) {}

  onModuleInit(): void {
    this.clock.onAdvance((now) => this.run(now, { wait: true }).then(() => undefined));
    if (this.config.rules.servicingIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.clock
          .refresh()
          .then(() => this.run(this.clock.now(), { wait: false }))
          .catch((error) => this.logger.error(`servicing failed: ${error instanceof Error ? error.message : error}`));
      }, this.config.rules.servicingIntervalMs);
      this.timer.unref();
    }
  }

  /** At start (after the clock has read its instant): the month partitions around the business clock. */
  async onApplicationBootstrap(): Promise<void> {
    await this.maintainPartitions(this.clock.now());
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Runs servicing for `now`. With `wait`, waits for a concurrent runner to finish first (after
   * a clock change the caller needs the result); otherwise skips when another runner is busy.
   */
  async run(now: Date, options: { wait: boolean }): Promise<ServicingReport> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [got] = await runner.query(
        options.wait ? `SELECT pg_advisory_lock(hashtext($1)) IS NOT NULL AS ok` : `SELECT pg_try_advisory_lock(hashtext($1)) AS ok`,
        [SERVICING_LOCK],
      );
      if (!got.ok) this.metrics.servicingRuns.inc({ result: 'skipped' });
      if (!got.ok) return { at: now, ran: false, listingsExpired: 0, deliveries: 0, facilitiesMoved: 0, blocksExpired: 0, holdsExpired: 0 };
      try {
        const stop = this.metrics.servicingDuration.startTimer();
        const report = await this.steps(now);
        stop();
        this.metrics.servicingRuns.inc({ result: 'ran' });
        return report;
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [SERVICING_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }

  private async steps(now: Date): Promise<ServicingReport> {
    // First, so that what this run and the traffic after it write lands in month partitions.
    await this.maintainPartitions(now);
    const listingsExpired = await withTransaction(this.dataSource, (m) => this.listings.expireDueInTransaction(m, now));
    const deliveries = await this.reservations.deliverDue(now);
    // Before block expiry: a facility that defaulted before maturity freezes its block (at the
    // default instant) rather than letting it expire.
    const facilitiesMoved = await this.facilities.serviceFacilities(now);
    const blocksExpired = await withTransaction(this.dataSource, async (m) => {
      const { expired, drops } = await this.credits.expireDueWithDropsInTransaction(m, now);
      // An expiry lowers what a buyer can spend: a low-balance crossing like any other (SPEC §8).
      for (const d of drops) await this.alerts.balanceChangedInTransaction(m, { organizationId: d.organizationId, before: d.before, after: d.after, at: now });
      return expired;
    });
    // Usage holds first (they release their ledger legs), then any other ledger hold due.
    const holdsExpired =
      (await this.usageHolds.expireDue(now)) + (await withTransaction(this.dataSource, (m) => this.ledger.expireHolds(m, now))).length;
    // Gateway: over-allocation earnings paid in whole cents, abandoned requests closed.
    await this.gateway.run(now, this.config.rules.usage.holdMinutes);
    return { at: now, ran: true, listingsExpired, deliveries, facilitiesMoved, blocksExpired, holdsExpired };
  }

  /**
   * Month partitions of the partitioned tables (usage events, the request log) from the month
   * before `now` to a few after. A failure (a lock not granted in time) is logged and retried at the
   * next run: without its partition a month's rows go to the DEFAULT partition, slower, never lost.
   */
  private async maintainPartitions(now: Date): Promise<void> {
    try {
      const created = await ensureMonthlyPartitions(this.dataSource, now);
      if (created) this.logger.log(`created ${created} month partition(s) around ${now.toISOString()}`);
    } catch (error) {
      this.logger.warn(`month partitions not created (retried at the next servicing run): ${error instanceof Error ? error.message : error}`);
    }
  }
}
