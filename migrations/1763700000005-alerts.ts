import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Alerts, webhooks and auto-refill (SPEC §8): a buyer's balance settings, the alerts every
 * organization can read, and two outboxes written in the transaction of their cause — webhook
 * deliveries and auto-refill jobs — so a restart never loses one.
 */
export class Alerts1763700000005 implements MigrationInterface {
  name = 'Alerts1763700000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE balance_settings (
        organization_id uuid PRIMARY KEY REFERENCES organizations (id),
        low_balance_threshold numeric CHECK (low_balance_threshold >= 0),
        auto_refill_threshold numeric CHECK (auto_refill_threshold >= 0),
        auto_refill_credits numeric CHECK (auto_refill_credits > 0),
        auto_refill_max_unit_price numeric CHECK (auto_refill_max_unit_price > 0),
        webhook_url text CHECK (length(webhook_url) BETWEEN 1 AND 2048),
        -- Stored as is: an HMAC signing key is needed in clear to sign, so it cannot be hashed
        -- like an API key. It is returned once, when generated, and never by a read.
        webhook_secret text,
        updated_at timestamptz NOT NULL,
        CHECK ((auto_refill_threshold IS NULL) = (auto_refill_credits IS NULL)),
        CHECK ((webhook_url IS NULL) = (webhook_secret IS NULL))
      );

      CREATE TABLE alerts (
        id uuid PRIMARY KEY,
        -- Insertion order, for ties at the same business instant (a frozen test clock makes them common).
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        kind text NOT NULL CHECK (kind IN ('LOW_BALANCE', 'AUTO_REFILL', 'CREDITS_FROZEN', 'CREDITS_UNFROZEN', 'PAYMENT_OVERDUE')),
        message text NOT NULL CHECK (length(message) BETWEEN 1 AND 1000),
        data jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX alerts_organization_idx ON alerts (organization_id, created_at DESC, seq DESC);

      -- Times in this table are real wall time (delivery is I/O, not business time).
      CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        alert_id uuid NOT NULL UNIQUE REFERENCES alerts (id),
        organization_id uuid NOT NULL REFERENCES organizations (id),
        url text NOT NULL,
        payload jsonb NOT NULL,
        attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at timestamptz DEFAULT now(),
        last_attempt_at timestamptz,
        delivered_at timestamptz,
        failed_at timestamptz,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (delivered_at IS NULL OR failed_at IS NULL),
        CHECK ((next_attempt_at IS NULL) = (delivered_at IS NOT NULL OR failed_at IS NOT NULL))
      );
      -- The dispatcher's claim: due, undelivered rows in due order.
      CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
      CREATE INDEX webhook_deliveries_organization_idx ON webhook_deliveries (organization_id) WHERE delivered_at IS NULL AND failed_at IS NULL;

      CREATE TABLE auto_refill_jobs (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        status text NOT NULL CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
        -- The settings at the crossing, so a retried job repeats the same purchase request.
        credits numeric NOT NULL CHECK (credits > 0),
        max_unit_price numeric CHECK (max_unit_price > 0),
        attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        created_at timestamptz NOT NULL,
        processed_at timestamptz,
        result jsonb,
        CHECK ((status = 'PENDING') = (processed_at IS NULL))
      );
      -- At most one pending refill per buyer: a second crossing before the first refill ran
      -- must not buy twice. Also the worker's index of pending jobs.
      CREATE UNIQUE INDEX auto_refill_jobs_one_pending ON auto_refill_jobs (organization_id) WHERE status = 'PENDING';
      CREATE INDEX auto_refill_jobs_organization_idx ON auto_refill_jobs (organization_id, created_at);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE auto_refill_jobs; DROP TABLE webhook_deliveries; DROP TABLE alerts; DROP TABLE balance_settings;`);
  }
}
