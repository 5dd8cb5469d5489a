import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage metering (SPEC §8): one row per charged event, unique per buyer and event id, with the
 * rate it was charged at (a later rate-card change never alters the past); usage holds.
 */
export class Usage1763700000004 implements MigrationInterface {
  name = 'Usage1763700000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
        model text,
        input_tokens bigint CHECK (input_tokens >= 0),
        output_tokens bigint CHECK (output_tokens >= 0),
        gpu_type text,
        gpu_seconds numeric CHECK (gpu_seconds > 0),
        input_rate numeric,
        output_rate numeric,
        credits_per_gpu_hour numeric,
        credits numeric NOT NULL CHECK (credits > 0),
        occurred_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        hold_id uuid,
        ledger_transaction_id bigint,
        UNIQUE (organization_id, event_id),
        CHECK ((model IS NULL) <> (gpu_type IS NULL))
      );
      CREATE INDEX usage_events_report_idx ON usage_events (organization_id, occurred_at);

      CREATE TABLE usage_holds (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        event_id text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
        credits numeric NOT NULL CHECK (credits > 0),
        status text NOT NULL CHECK (status IN ('OPEN', 'CAPTURED', 'VOIDED', 'EXPIRED')),
        expires_at timestamptz NOT NULL,
        -- The ledger holds, one per block it reserves on, in burn-down order.
        ledger_hold_ids bigint[] NOT NULL,
        created_at timestamptz NOT NULL,
        resolved_at timestamptz,
        UNIQUE (organization_id, event_id)
      );
      CREATE INDEX usage_holds_open_idx ON usage_holds (expires_at) WHERE status = 'OPEN';
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE usage_holds, usage_events`);
  }
}
