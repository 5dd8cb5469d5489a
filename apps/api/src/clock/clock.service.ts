import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode, BadInputError } from '@ccx/core';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';

/**
 * The business clock (SPEC §9): the only source of "now" for business code. In production it is
 * the system clock. With CCX_TEST_CLOCK=true it is a frozen instant stored in the database (like
 * Stripe's test clocks) that only `advanceTo` moves, forward.
 */
@Injectable()
export class ClockService implements OnModuleInit {
  private frozen: Date | null = null;
  private readonly listeners: ((now: Date) => Promise<void>)[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.testClock) return;
    const start = this.config.clockStart ?? new Date();
    // First start sets the instant; later starts keep whatever the clock was advanced to.
    await this.dataSource.query(`INSERT INTO business_clock (id, now) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [start]);
    await this.refresh();
  }

  get isTestClock(): boolean {
    return this.config.testClock;
  }

  now(): Date {
    return this.frozen ? new Date(this.frozen.getTime()) : new Date();
  }

  /** Re-reads the shared test-clock instant (another API process may have advanced it). */
  async refresh(): Promise<void> {
    if (!this.config.testClock) return;
    const [row] = await this.dataSource.query(`SELECT now FROM business_clock WHERE id = 1`);
    if (!row) return;
    // The test clock only moves forward: a read that started before a concurrent advance must not
    // put the in-memory instant back.
    const read = new Date(row.now);
    if (!this.frozen || read.getTime() > this.frozen.getTime()) this.frozen = read;
  }

  /** Called after each clock change with the new instant (servicing registers here). */
  onAdvance(listener: (now: Date) => Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Moves the test clock forward to `to` and runs what must happen up to that instant. */
  async advanceTo(to: Date): Promise<Date> {
    if (!this.config.testClock) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'the test clock is disabled (set CCX_TEST_CLOCK=true outside production)');
    }
    const [row] = await this.dataSource.query(
      `UPDATE business_clock SET now = $1, updated_at = now() WHERE id = 1 AND now <= $1 RETURNING now`,
      [to],
    );
    const updated = Array.isArray(row) ? row[0] : row;
    if (!updated) {
      await this.refresh();
      throw new BadInputError(`the test clock only moves forward; it is at ${this.now().toISOString()}`);
    }
    this.frozen = new Date(updated.now);
    for (const listener of this.listeners) await listener(this.now());
    return this.now();
  }
}
