import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The inference gateway (SPEC §12) and named API keys: sellers' inference endpoints and the models
 * they serve, the circuit breaker shared by every API process, what each listing served and earned
 * beyond its allocation, the request log (never prompts), per-key monthly usage, and idempotent
 * replays of non-streaming answers.
 */
export class Gateway1763700000007 implements MigrationInterface {
  name = 'Gateway1763700000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE models ADD COLUMN max_output_tokens integer NOT NULL DEFAULT 4096
        CHECK (max_output_tokens BETWEEN 1 AND 10000000);

      -- Named keys: every organization may hold several; the registration key is the first.
      ALTER TABLE api_keys
        ADD COLUMN name text NOT NULL DEFAULT 'default' CHECK (length(name) BETWEEN 1 AND 100),
        ADD COLUMN last_four text,
        ADD COLUMN monthly_credit_limit numeric CHECK (monthly_credit_limit > 0),
        ADD COLUMN last_used_at timestamptz;

      -- Credits charged through each key, per calendar month (UTC), written with each capture.
      CREATE TABLE api_key_usage (
        api_key_id uuid NOT NULL REFERENCES api_keys (id),
        month date NOT NULL,
        credits numeric NOT NULL DEFAULT 0 CHECK (credits >= 0),
        PRIMARY KEY (api_key_id, month)
      );

      CREATE TABLE inference_endpoints (
        id uuid PRIMARY KEY,
        -- Creation order: the last routing tie-break ("the oldest endpoint").
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        listing_id uuid NOT NULL REFERENCES listings (id),
        seller_id uuid NOT NULL REFERENCES organizations (id),
        base_url text NOT NULL CHECK (length(base_url) BETWEEN 1 AND 2048),
        -- AES-256-GCM: 12-byte nonce, ciphertext, 16-byte tag. Never returned, never logged.
        api_key_encrypted bytea,
        api_key_last_four text,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX inference_endpoints_listing_idx ON inference_endpoints (listing_id);
      CREATE INDEX inference_endpoints_seller_idx ON inference_endpoints (seller_id);

      CREATE TABLE inference_endpoint_models (
        endpoint_id uuid NOT NULL REFERENCES inference_endpoints (id),
        model text NOT NULL REFERENCES models (id),
        upstream_model text NOT NULL CHECK (length(upstream_model) BETWEEN 1 AND 200),
        PRIMARY KEY (endpoint_id, model)
      );
      CREATE INDEX inference_endpoint_models_model_idx ON inference_endpoint_models (model);

      -- The circuit breaker of each endpoint, shared by every API process.
      CREATE TABLE endpoint_circuits (
        endpoint_id uuid PRIMARY KEY REFERENCES inference_endpoints (id),
        state text NOT NULL DEFAULT 'CLOSED' CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
        consecutive_failures integer NOT NULL DEFAULT 0,
        open_until timestamptz,
        -- While HALF_OPEN: until when the one probe request holds the right to decide.
        probe_until timestamptz,
        requests bigint NOT NULL DEFAULT 0,
        failures bigint NOT NULL DEFAULT 0
      );
      -- Attempts per endpoint per second: the breaker's 60-second failure rate and routing's
      -- recent error rate. Old seconds are pruned by servicing.
      CREATE TABLE endpoint_outcomes (
        endpoint_id uuid NOT NULL,
        second timestamptz NOT NULL,
        requests integer NOT NULL,
        failures integer NOT NULL,
        PRIMARY KEY (endpoint_id, second)
      );

      -- What each listing served through the gateway, and what it earned beyond its allocation
      -- (SPEC §12): accrued exactly (USD, unrounded) with each capture, paid in whole cents.
      CREATE TABLE listing_service (
        listing_id uuid PRIMARY KEY REFERENCES listings (id),
        served_credits numeric NOT NULL DEFAULT 0 CHECK (served_credits >= 0),
        overflow_credits numeric NOT NULL DEFAULT 0 CHECK (overflow_credits >= 0),
        overflow_accrued numeric NOT NULL DEFAULT 0 CHECK (overflow_accrued >= 0),
        overflow_paid numeric NOT NULL DEFAULT 0 CHECK (overflow_paid >= 0 AND overflow_paid <= overflow_accrued)
      );

      -- The request log. RUNNING rows are requests in flight (their hold counts against the key's
      -- monthly limit); prompts and completions are never stored.
      CREATE TABLE inference_requests (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        api_key_id uuid,
        model text NOT NULL,
        endpoint_id uuid,
        listing_id uuid,
        seller_id uuid,
        status text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED', 'REFUSED', 'CANCELLED')),
        attempts integer NOT NULL DEFAULT 0,
        held_credits numeric NOT NULL DEFAULT 0,
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        credits numeric NOT NULL DEFAULT 0 CHECK (credits >= 0),
        estimated boolean NOT NULL DEFAULT false,
        stream boolean NOT NULL DEFAULT false,
        latency_ms integer NOT NULL DEFAULT 0,
        ttft_ms integer,
        error_code text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz
      );
      CREATE INDEX inference_requests_org_idx ON inference_requests (organization_id, created_at DESC, id DESC);
      CREATE INDEX inference_requests_seller_idx ON inference_requests (seller_id, created_at DESC, id DESC) WHERE seller_id IS NOT NULL;
      CREATE INDEX inference_requests_all_idx ON inference_requests (created_at DESC, id DESC);
      CREATE INDEX inference_requests_running_key_idx ON inference_requests (api_key_id) WHERE status = 'RUNNING';

      -- Idempotency-Key replays of non-streaming answers (SPEC §12).
      CREATE TABLE gateway_idempotency (
        organization_id uuid NOT NULL REFERENCES organizations (id),
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
        request_hash text NOT NULL,
        state text NOT NULL CHECK (state IN ('RUNNING', 'DONE')),
        status_code integer,
        headers jsonb,
        body text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (organization_id, key)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE gateway_idempotency, inference_requests, listing_service, endpoint_outcomes, endpoint_circuits,
        inference_endpoint_models, inference_endpoints, api_key_usage;
      ALTER TABLE api_keys DROP COLUMN name, DROP COLUMN last_four, DROP COLUMN monthly_credit_limit, DROP COLUMN last_used_at;
      ALTER TABLE models DROP COLUMN max_output_tokens;
    `);
  }
}
