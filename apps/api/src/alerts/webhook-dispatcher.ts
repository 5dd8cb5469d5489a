import { MetricsService } from '../observability/metrics.service.js';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Agent, request } from 'undici';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { SsrfBlockedError, safeConnector } from '../net/index.js';
import { deliveryExhausted, retryDelayMs } from './domain/retry-schedule.js';
import { signatureHeader } from './domain/webhook-signing.js';

/** Deliveries claimed per round; they are sent in parallel. */
const BATCH = 20;
/** Rounds per dispatchDue call, so one call under constant load still returns. */
const MAX_ROUNDS = 10;
/** A receiver that has not answered in this time has failed this attempt. */
export const WEBHOOK_TIMEOUT_MS = 5_000;
/**
 * How long a claim lasts. Well above the timeout, so a row is only claimed again when its
 * sender died mid-attempt; then it is sent again (at least once — receivers dedupe on the id).
 */
const LEASE_SECONDS = 60;
const MAX_ERROR_LENGTH = 500;

interface Claimed {
  id: string;
  url: string | null;
  secret: string | null;
  payload: Record<string, unknown>;
  attempts: number;
}

/**
 * Sends the webhook outbox (SPEC §8: "sent to the buyer's webhook URL as an HMAC-SHA256-signed
 * POST with retries"). Each round claims due rows with FOR UPDATE SKIP LOCKED and leases them,
 * so two processes never send the same delivery at once; rows written before a restart are
 * simply due when the next process starts.
 *
 * Timing here is real wall time (PostgreSQL now(), Date.now()), not the business clock: retries
 * and timeouts are I/O concerns, and a test clock moved a month ahead must not skip backoff.
 *
 * Every connection goes through `safeConnector`: a URL accepted when it was saved is refused at
 * delivery when its host now resolves to a loopback, private or metadata address (DNS
 * rebinding); that attempt fails like any other, with the reason in last_error.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly agent: Agent;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
  ) {
    this.agent = new Agent({ connect: safeConnector({ allowPrivate: config.allowPrivateUrls, timeout: WEBHOOK_TIMEOUT_MS }) });
  }

  onApplicationBootstrap(): void {
    if (this.config.webhookIntervalMs <= 0) return;
    this.timer = setInterval(() => this.tick(), this.config.webhookIntervalMs);
    this.timer.unref();
    this.tick(); // what was left undelivered before a restart goes out at once
  }

  /**
   * Stops the timer and waits for the round in flight, before the database pool closes; then
   * closes the kept-alive connections to receivers (after the round, which may still be sending).
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.agent.close();
  }

  /**
   * Sends every delivery due now (at most a few hundred per call) and records each outcome:
   * 2xx → delivered; anything else → retried after min(2^attempts s, 1 h) + jitter, or marked
   * failed after the last attempt. Returns the number of attempts made. Safe to call from
   * several processes (and concurrently in one) at once.
   */
  async dispatchDue(): Promise<number> {
    let sent = 0;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const claimed = await this.claim();
      if (claimed.length === 0) break;
      await Promise.all(claimed.map((d) => this.attempt(d)));
      sent += claimed.length;
      if (claimed.length < BATCH) break;
    }
    return sent;
  }

  /** A timer tick: skipped while the previous round is still running. */
  private tick(): void {
    if (this.running) return;
    this.running = this.dispatchDue()
      .catch((error) => this.logger.error(`webhook dispatch failed: ${error instanceof Error ? error.message : error}`))
      .finally(() => {
        this.running = null;
      });
  }

  /**
   * Claims due rows: counts the attempt and pushes next_attempt_at one lease ahead in the same
   * statement, so a concurrent claimer skips them now (locked) and later (not due). The URL and
   * key are the organization's current ones.
   */
  private async claim(): Promise<Claimed[]> {
    const rows: Claimed[] = await this.dataSource.query(
      `WITH due AS (
         SELECT id FROM webhook_deliveries
          WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
          ORDER BY next_attempt_at
          LIMIT $1
          FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries d
            SET attempts = d.attempts + 1,
                last_attempt_at = now(),
                next_attempt_at = now() + make_interval(secs => $2),
                url = coalesce((SELECT s.webhook_url FROM balance_settings s WHERE s.organization_id = d.organization_id), d.url)
           FROM due
          WHERE d.id = due.id
         RETURNING d.id, d.organization_id, d.payload, d.attempts
       )
       SELECT c.id, s.webhook_url AS url, s.webhook_secret AS secret, c.payload, c.attempts
         FROM claimed c LEFT JOIN balance_settings s ON s.organization_id = c.organization_id`,
      [BATCH, LEASE_SECONDS],
    );
    return rows;
  }

  private async attempt(d: Claimed): Promise<void> {
    if (!d.url || !d.secret) {
      await this.finish(d.id, 'failed', 'the webhook URL was removed');
      return;
    }
    let error: string | null = null;
    try {
      const body = JSON.stringify(d.payload);
      const signal = AbortSignal.timeout(WEBHOOK_TIMEOUT_MS);
      // undici's request never follows a redirect: a 3xx is an answer, not a success, and the
      // signed request is not re-sent elsewhere.
      const res = await request(d.url, {
        dispatcher: this.agent,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'CCX-Webhooks/1',
          'CCX-Webhook-Id': d.id,
          'CCX-Signature': signatureHeader(d.secret, Math.floor(Date.now() / 1000), body),
        },
        body,
        signal,
      });
      // The answer's body means nothing; draining a little of it (not reading all) lets the
      // connection be reused without letting a receiver hold the attempt open or fill memory.
      await res.body.dump({ limit: 16_384, signal }).catch(() => undefined);
      if (res.statusCode < 200 || res.statusCode > 299) error = `HTTP ${res.statusCode}`;
    } catch (e) {
      error = deliveryError(e);
    }
    this.metrics.webhookDeliveries.inc({ result: error === null ? 'delivered' : 'failed' });
    if (error === null) await this.finish(d.id, 'delivered', null);
    else if (deliveryExhausted(d.attempts)) await this.finish(d.id, 'failed', error);
    else await this.retryLater(d.id, retryDelayMs(d.attempts, Math.random()), error);
  }

  private async finish(id: string, outcome: 'delivered' | 'failed', error: string | null): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_deliveries
          SET ${outcome === 'delivered' ? 'delivered_at' : 'failed_at'} = now(), next_attempt_at = NULL, last_error = $2
        WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
      [id, error?.slice(0, MAX_ERROR_LENGTH) ?? null],
    );
  }

  private async retryLater(id: string, delayMs: number, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3
        WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
      [id, delayMs / 1000, error.slice(0, MAX_ERROR_LENGTH)],
    );
  }
}

/** What last_error says about a failed attempt: the receiver's owner reads it to fix their endpoint. */
function deliveryError(e: unknown): string {
  if (e instanceof SsrfBlockedError) return e.message;
  const { name, code, cause, message } = (e ?? {}) as { name?: string; code?: unknown; cause?: { code?: string; message?: string }; message?: string };
  // AbortSignal.timeout's DOMException: its numeric code means nothing to a reader.
  if (name === 'TimeoutError') return `no answer within ${WEBHOOK_TIMEOUT_MS} ms`;
  return (typeof code === 'string' ? code : undefined) ?? cause?.code ?? cause?.message ?? message ?? String(e);
}
