import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { afterFailure, claimProbe, type BreakerSettings, type Circuit } from './domain/breaker.js';

/** How long successes wait in memory before they are written (one statement for all endpoints). */
const SUCCESS_FLUSH_MS = 100;

/**
 * The circuit breakers, in the database so every API process shares them (SPEC §12). Failures are
 * written at once, under the circuit row's lock, and decide with the pure rule; successes of
 * closed circuits are summed in memory and written every 100 ms (they only reset the streak and
 * feed the failure rate), so the hot path never waits on a hot row.
 */
@Injectable()
export class CircuitStore implements OnApplicationShutdown {
  private readonly logger = new Logger('CircuitStore');
  /** Per endpoint: successes not yet written, and when the last of them happened. */
  private readonly successes = new Map<string, { n: number; last: Date }>();
  private timer: NodeJS.Timeout | null = null;
  readonly settings: BreakerSettings;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.settings = {
      consecutiveFailures: config.gateway.breakerConsecutiveFailures,
      windowMs: 60_000,
      minRequests: config.gateway.breakerMinRequests,
      failureRatio: 0.5,
      openMs: config.gateway.breakerOpenMs,
      probeLeaseMs: config.gateway.firstByteTimeoutMs + 5_000,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush().catch(() => undefined);
  }

  /** Claims the one probe of an open circuit whose time is up; false when another process has it. */
  async claimProbe(endpointId: string, now: Date): Promise<boolean> {
    const claimed = claimProbe({ state: 'OPEN', consecutiveFailures: 0, openUntil: null, probeUntil: null }, now, this.settings);
    const rows = await this.dataSource.query(
      `UPDATE endpoint_circuits SET state = 'HALF_OPEN', probe_until = $2
        WHERE endpoint_id = $1
          AND ((state = 'OPEN' AND open_until <= $3) OR (state = 'HALF_OPEN' AND probe_until <= $3))
        RETURNING endpoint_id`,
      [endpointId, claimed.probeUntil, now],
    );
    return (Array.isArray(rows[0]) ? rows[0] : rows).length > 0;
  }

  recordSuccess(endpointId: string, probe: boolean, now: Date): Promise<void> {
    if (probe) return this.closeAfterProbe(endpointId, now);
    this.successes.set(endpointId, { n: (this.successes.get(endpointId)?.n ?? 0) + 1, last: now });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush().catch((e) => this.logger.warn(`circuit successes not written: ${e instanceof Error ? e.message : e}`));
      }, SUCCESS_FLUSH_MS);
      this.timer.unref();
    }
    return Promise.resolve();
  }

  /** A failed attempt: counted, and the circuit opens when the rule says so. Returns the new state. */
  async recordFailure(endpointId: string, now: Date): Promise<Circuit> {
    return withTransaction(this.dataSource, async (manager) => {
      const [row] = await manager.query(
        `SELECT state, consecutive_failures, open_until, probe_until FROM endpoint_circuits WHERE endpoint_id = $1 FOR UPDATE`,
        [endpointId],
      );
      if (!row) return { state: 'CLOSED', consecutiveFailures: 0, openUntil: null, probeUntil: null };
      await manager.query(
        `INSERT INTO endpoint_outcomes (endpoint_id, second, requests, failures) VALUES ($1, date_trunc('second', $2::timestamptz), 1, 1)
         ON CONFLICT (endpoint_id, second) DO UPDATE SET requests = endpoint_outcomes.requests + 1, failures = endpoint_outcomes.failures + 1`,
        [endpointId, now],
      );
      const [w] = await manager.query(
        `SELECT coalesce(sum(requests), 0)::int AS requests, coalesce(sum(failures), 0)::int AS failures
           FROM endpoint_outcomes WHERE endpoint_id = $1 AND second > $2::timestamptz - make_interval(secs => $3)`,
        [endpointId, now, this.settings.windowMs / 1000],
      );
      // Successes still in memory belong to this window too.
      const pending = this.successes.get(endpointId)?.n ?? 0;
      const current: Circuit = {
        state: row.state,
        consecutiveFailures: Number(row.consecutive_failures),
        openUntil: row.open_until ? new Date(row.open_until) : null,
        probeUntil: row.probe_until ? new Date(row.probe_until) : null,
      };
      const next = afterFailure(current, { requests: Number(w.requests) + pending, failures: Number(w.failures) }, now, this.settings);
      await manager.query(
        `UPDATE endpoint_circuits SET state = $2, consecutive_failures = $3, open_until = $4, probe_until = $5,
                requests = requests + 1, failures = failures + 1, last_failure_at = greatest(last_failure_at, $6)
          WHERE endpoint_id = $1`,
        [endpointId, next.state, next.consecutiveFailures, next.openUntil, next.probeUntil, now],
      );
      if (next.state === 'OPEN' && current.state !== 'OPEN') this.logger.warn(`circuit of endpoint ${endpointId} opened`);
      return next;
    });
  }

  /**
   * Writes the summed successes: outcome buckets and circuit counters, one statement. A success
   * ends the failure streak only if no failure was recorded after it (in any process): the
   * batch is written late, and must not wipe failures that came in between.
   */
  async flush(): Promise<void> {
    if (!this.successes.size) return;
    const entries = [...this.successes].sort(([a], [b]) => (a < b ? -1 : 1));
    this.successes.clear();
    const now = new Date();
    await this.dataSource.query(
      `WITH s AS (SELECT * FROM unnest($1::uuid[], $2::int[], $4::timestamptz[]) AS s(endpoint_id, n, last_success)),
            buckets AS (
              INSERT INTO endpoint_outcomes (endpoint_id, second, requests, failures)
              SELECT endpoint_id, date_trunc('second', $3::timestamptz), n, 0 FROM s
              ON CONFLICT (endpoint_id, second) DO UPDATE SET requests = endpoint_outcomes.requests + excluded.requests
            )
       UPDATE endpoint_circuits c SET requests = c.requests + s.n,
              consecutive_failures = CASE
                WHEN c.state = 'CLOSED' AND (c.last_failure_at IS NULL OR c.last_failure_at < s.last_success) THEN 0
                ELSE c.consecutive_failures END
         FROM s WHERE c.endpoint_id = s.endpoint_id`,
      [entries.map(([id]) => id), entries.map(([, p]) => p.n), now, entries.map(([, p]) => p.last)],
    );
  }

  private async closeAfterProbe(endpointId: string, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE endpoint_circuits SET state = 'CLOSED', consecutive_failures = 0, open_until = NULL, probe_until = NULL, requests = requests + 1
        WHERE endpoint_id = $1 AND state = 'HALF_OPEN'`,
      [endpointId],
    );
    await this.dataSource.query(
      `INSERT INTO endpoint_outcomes (endpoint_id, second, requests, failures) VALUES ($1, date_trunc('second', $2::timestamptz), 1, 0)
       ON CONFLICT (endpoint_id, second) DO UPDATE SET requests = endpoint_outcomes.requests + 1`,
      [endpointId, now],
    );
    this.logger.log(`circuit of endpoint ${endpointId} closed after a successful probe`);
  }

  /** Servicing: outcome seconds older than the window are no longer needed. */
  async prune(now: Date): Promise<void> {
    await this.dataSource.query(`DELETE FROM endpoint_outcomes WHERE second < $1::timestamptz - interval '10 minutes'`, [now]);
  }
}
