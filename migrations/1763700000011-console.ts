import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the console needs (SPEC §13, issue 10 item 1):
 * - the directory reads organizations newest first, by role and status: `seq` orders those created
 *   at the same instant (the test clock stands still), as `listings.seq` does;
 * - financing requests, and which facility offers answer which request (one row per offer; the
 *   facilities table is left as it is);
 * - payouts: one per (organization, idempotency key), so a replayed request finds the first one
 *   and two concurrent replays cannot both insert.
 */
export class Console1763700000011 implements MigrationInterface {
  name = 'Console1763700000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE organizations ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
      CREATE INDEX organizations_directory_idx ON organizations (created_at DESC, seq DESC);

      CREATE TABLE financing_requests (
        id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        borrower_id uuid NOT NULL REFERENCES organizations (id),
        amount numeric NOT NULL CHECK (amount > 0 AND scale(amount) <= 2),
        term_months integer NOT NULL CHECK (term_months >= 1),
        purpose text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 500),
        status text NOT NULL CHECK (status IN ('OPEN', 'FUNDED', 'WITHDRAWN')),
        funded_by_facility_id uuid REFERENCES facilities (id),
        created_at timestamptz NOT NULL,
        closed_at timestamptz,
        CHECK ((status = 'FUNDED') = (funded_by_facility_id IS NOT NULL)),
        CHECK ((status = 'OPEN') = (closed_at IS NULL))
      );
      CREATE INDEX financing_requests_borrower_idx ON financing_requests (borrower_id, created_at DESC, seq DESC);
      CREATE INDEX financing_requests_status_idx ON financing_requests (status, created_at DESC, seq DESC);

      CREATE TABLE financing_request_offers (
        facility_id uuid PRIMARY KEY REFERENCES facilities (id),
        financing_request_id uuid NOT NULL REFERENCES financing_requests (id),
        lender_id uuid NOT NULL REFERENCES organizations (id)
      );
      CREATE INDEX financing_request_offers_request_idx ON financing_request_offers (financing_request_id);

      CREATE TABLE payouts (
        id uuid PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        organization_id uuid NOT NULL REFERENCES organizations (id),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash text NOT NULL,
        amount numeric NOT NULL CHECK (amount > 0 AND scale(amount) <= 2),
        status text NOT NULL CHECK (status IN ('PENDING', 'PAID', 'REJECTED')),
        reference text,
        reason text,
        ledger_transaction_id bigint NOT NULL,
        created_at timestamptz NOT NULL,
        resolved_at timestamptz,
        CONSTRAINT payouts_idempotency_key UNIQUE (organization_id, idempotency_key),
        CHECK ((status = 'PAID') = (reference IS NOT NULL)),
        CHECK ((status = 'REJECTED') = (reason IS NOT NULL)),
        CHECK ((status = 'PENDING') = (resolved_at IS NULL))
      );
      CREATE INDEX payouts_owner_idx ON payouts (organization_id, created_at DESC, seq DESC);
      CREATE INDEX payouts_status_idx ON payouts (status, created_at DESC, seq DESC);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE payouts, financing_request_offers, financing_requests;
      DROP INDEX organizations_directory_idx;
      ALTER TABLE organizations DROP COLUMN seq;
    `);
  }
}
