import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Marketplace (SPEC §2–§6): organizations and their API keys (hashes only), the GPU catalog with
 * its default figures, model rate cards, listings, capacity allocations, purchases, reservations
 * and credit blocks. Money and credits are `numeric`; every figure that moves is also in the ledger.
 */
export class Marketplace1763700000002 implements MigrationInterface {
  name = 'Marketplace1763700000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE organizations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        role text NOT NULL CHECK (role IN ('BUYER', 'SELLER', 'LENDER', 'OPERATOR')),
        status text NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'SUSPENDED')),
        wallet_account_id bigint NOT NULL UNIQUE REFERENCES ledger_accounts (id),
        created_at timestamptz NOT NULL
      );
      CREATE UNIQUE INDEX organizations_one_operator ON organizations (role) WHERE role = 'OPERATOR';

      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations (id),
        key_hash bytea NOT NULL UNIQUE,
        prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);

      CREATE TABLE gpu_types (
        name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
        credits_per_gpu_hour numeric NOT NULL CHECK (credits_per_gpu_hour > 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- The default catalog of SPEC §1 (the operator can add or change types).
      INSERT INTO gpu_types (name, credits_per_gpu_hour) VALUES
        ('H100', 1.0), ('H200', 1.4), ('B200', 2.2), ('A100', 0.5), ('L40S', 0.35);

      CREATE TABLE models (
        id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
        input_credits_per_million_tokens numeric NOT NULL CHECK (input_credits_per_million_tokens >= 0),
        output_credits_per_million_tokens numeric NOT NULL CHECK (output_credits_per_million_tokens >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE listings (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        -- Creation order, for ties at the same instant (a frozen test clock makes them common).
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        seller_id uuid NOT NULL REFERENCES organizations (id),
        gpu_type text NOT NULL REFERENCES gpu_types (name),
        region text NOT NULL CHECK (length(region) BETWEEN 1 AND 64),
        gpu_hours numeric NOT NULL CHECK (gpu_hours > 0),
        wholesale_price_per_gpu_hour numeric NOT NULL CHECK (wholesale_price_per_gpu_hour > 0),
        -- The catalog figure when listed: a later catalog change never alters a listing.
        credits_per_gpu_hour numeric NOT NULL CHECK (credits_per_gpu_hour > 0),
        total_credits numeric NOT NULL CHECK (total_credits > 0),
        wholesale_cost_per_credit numeric NOT NULL CHECK (wholesale_cost_per_credit > 0),
        allocated_credits numeric NOT NULL DEFAULT 0 CHECK (allocated_credits >= 0),
        withdrawn_credits numeric NOT NULL DEFAULT 0 CHECK (withdrawn_credits >= 0),
        available_from timestamptz NOT NULL,
        available_until timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('OPEN', 'SOLD_OUT', 'WITHDRAWN', 'EXPIRED')),
        ledger_account_id bigint NOT NULL UNIQUE REFERENCES ledger_accounts (id),
        created_at timestamptz NOT NULL,
        withdrawn_at timestamptz,
        CHECK (available_until > available_from),
        CHECK (allocated_credits + withdrawn_credits <= total_credits)
      );
      CREATE INDEX listings_fill_idx ON listings (wholesale_cost_per_credit, created_at, seq) WHERE status = 'OPEN';
      CREATE INDEX listings_seller_idx ON listings (seller_id, created_at);
      CREATE INDEX listings_order_idx ON listings (created_at, seq);

      CREATE TABLE purchases (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        buyer_id uuid NOT NULL REFERENCES organizations (id),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash text NOT NULL,
        credits numeric NOT NULL CHECK (credits > 0),
        unit_price numeric NOT NULL,
        total_price numeric NOT NULL,
        wholesale_cost numeric NOT NULL,
        block_id uuid NOT NULL,
        ledger_transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
        created_at timestamptz NOT NULL,
        UNIQUE (buyer_id, idempotency_key)
      );

      CREATE TABLE reservations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        buyer_id uuid NOT NULL REFERENCES organizations (id),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash text NOT NULL,
        credits_per_month numeric NOT NULL CHECK (credits_per_month > 0),
        term_months integer NOT NULL CHECK (term_months BETWEEN 1 AND 36),
        unit_price numeric NOT NULL,
        discount_rate numeric NOT NULL,
        months_delivered integer NOT NULL DEFAULT 0 CHECK (months_delivered >= 0),
        status text NOT NULL CHECK (status IN ('ACTIVE', 'PAST_DUE', 'COMPLETED', 'CANCELLED')),
        anchor_at timestamptz NOT NULL,
        next_delivery_at timestamptz,
        early_termination_fee numeric,
        ledger_account_id bigint NOT NULL UNIQUE REFERENCES ledger_accounts (id),
        created_at timestamptz NOT NULL,
        cancelled_at timestamptz,
        UNIQUE (buyer_id, idempotency_key),
        CHECK (months_delivered <= term_months)
      );
      CREATE INDEX reservations_due_idx ON reservations (next_delivery_at) WHERE status IN ('ACTIVE', 'PAST_DUE');

      -- Capacity taken from a listing for a purchase, a reservation or a facility: delivered to
      -- blocks (and paid to the seller) or released back; never both beyond what was taken.
      CREATE TABLE allocations (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        listing_id uuid NOT NULL REFERENCES listings (id),
        purpose text NOT NULL CHECK (purpose IN ('PURCHASE', 'RESERVATION', 'FACILITY')),
        purpose_id uuid NOT NULL,
        credits numeric NOT NULL CHECK (credits > 0),
        delivered numeric NOT NULL DEFAULT 0 CHECK (delivered >= 0),
        released numeric NOT NULL DEFAULT 0 CHECK (released >= 0),
        wholesale_cost_per_credit numeric NOT NULL,
        created_at timestamptz NOT NULL,
        CHECK (delivered + released <= credits)
      );
      CREATE INDEX allocations_purpose_idx ON allocations (purpose, purpose_id);

      CREATE TABLE credit_blocks (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        type text NOT NULL CHECK (type IN ('STANDARD', 'RESERVED', 'FINANCED')),
        status text NOT NULL CHECK (status IN ('ACTIVE', 'FROZEN', 'EXPIRED', 'EXHAUSTED', 'RECOVERED')),
        granted numeric NOT NULL CHECK (granted > 0),
        unit_price numeric NOT NULL CHECK (unit_price >= 0),
        expires_at timestamptz,
        facility_id uuid,
        purchase_id uuid,
        reservation_id uuid REFERENCES reservations (id),
        ledger_account_id bigint NOT NULL UNIQUE REFERENCES ledger_accounts (id),
        created_at timestamptz NOT NULL
      );
      CREATE INDEX credit_blocks_owner_idx ON credit_blocks (organization_id, status);
      CREATE INDEX credit_blocks_expiry_idx ON credit_blocks (expires_at) WHERE status = 'ACTIVE' AND expires_at IS NOT NULL;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE credit_blocks, allocations, reservations, purchases, listings, models, gpu_types, api_keys, organizations`);
  }
}
