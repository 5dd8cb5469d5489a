import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Financing (SPEC §7): facilities and their schedules, repayments, recoveries, and the freeze
 * controller's audit trail. A facility's outstanding principal is also a pair of ledger accounts
 * (the borrower's debt, the lender's receivable), so the figure reconciles with the ledger.
 */
export class Financing1763700000003 implements MigrationInterface {
  name = 'Financing1763700000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE facilities (
        id uuid PRIMARY KEY,
        lender_id uuid NOT NULL REFERENCES organizations (id),
        borrower_id uuid NOT NULL REFERENCES organizations (id),
        principal numeric NOT NULL CHECK (principal > 0),
        apr numeric NOT NULL CHECK (apr >= 0),
        term_months integer NOT NULL CHECK (term_months BETWEEN 1 AND 360),
        grace_days integer NOT NULL CHECK (grace_days >= 0),
        default_after_days_past_due integer NOT NULL,
        recovery_rate numeric NOT NULL CHECK (recovery_rate >= 0 AND recovery_rate <= 1),
        financing_fee numeric NOT NULL CHECK (financing_fee >= 0),
        disclosed_apr numeric NOT NULL,
        total_interest numeric NOT NULL,
        status text NOT NULL CHECK (status IN ('OFFERED', 'DECLINED', 'ACTIVE', 'DELINQUENT', 'DEFAULTED', 'REPAID', 'CHARGED_OFF')),
        -- Set when DPD drives the facility into DEFAULTED; only the lender's unfreeze clears it.
        default_sticky boolean NOT NULL DEFAULT false,
        accepted_at timestamptz,
        maturity_at timestamptz,
        defaulted_at timestamptz,
        block_id uuid,
        credits_granted numeric,
        purchase_amount numeric,
        debt_account_id bigint REFERENCES ledger_accounts (id),
        receivable_account_id bigint REFERENCES ledger_accounts (id),
        recovered_amount numeric NOT NULL DEFAULT 0,
        charged_off_amount numeric NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        CHECK (default_after_days_past_due > grace_days),
        CHECK (lender_id <> borrower_id)
      );
      CREATE INDEX facilities_lender_idx ON facilities (lender_id, created_at);
      CREATE INDEX facilities_borrower_idx ON facilities (borrower_id, created_at);
      CREATE INDEX facilities_live_idx ON facilities (status) WHERE status IN ('ACTIVE', 'DELINQUENT', 'DEFAULTED');

      CREATE TABLE installments (
        facility_id uuid NOT NULL REFERENCES facilities (id),
        number integer NOT NULL CHECK (number >= 1),
        due_date timestamptz NOT NULL,
        payment numeric NOT NULL,
        principal numeric NOT NULL,
        interest numeric NOT NULL CHECK (interest >= 0),
        principal_paid numeric NOT NULL DEFAULT 0 CHECK (principal_paid >= 0),
        interest_paid numeric NOT NULL DEFAULT 0 CHECK (interest_paid >= 0),
        -- When the PAYMENT_OVERDUE alert was emitted (once per installment).
        overdue_alerted_at timestamptz,
        PRIMARY KEY (facility_id, number),
        CHECK (principal_paid <= principal),
        CHECK (interest_paid <= interest)
      );

      CREATE TABLE repayments (
        id uuid PRIMARY KEY,
        facility_id uuid NOT NULL REFERENCES facilities (id),
        borrower_id uuid NOT NULL REFERENCES organizations (id),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash text NOT NULL,
        amount numeric NOT NULL CHECK (amount > 0),
        interest_paid numeric NOT NULL,
        principal_paid numeric NOT NULL,
        lines jsonb NOT NULL,
        ledger_transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
        created_at timestamptz NOT NULL,
        UNIQUE (borrower_id, idempotency_key)
      );
      CREATE INDEX repayments_facility_idx ON repayments (facility_id, created_at);

      CREATE TABLE recoveries (
        id uuid PRIMARY KEY,
        facility_id uuid NOT NULL UNIQUE REFERENCES facilities (id),
        credits_recovered numeric NOT NULL,
        amount_recovered numeric NOT NULL,
        interest_recovered numeric NOT NULL,
        principal_recovered numeric NOT NULL,
        surplus numeric NOT NULL,
        cancelled_interest numeric NOT NULL,
        charged_off_amount numeric NOT NULL,
        -- NULL only when nothing moved (no credits left and no principal outstanding).
        ledger_transaction_id bigint REFERENCES ledger_transactions (id),
        created_at timestamptz NOT NULL
      );

      -- Who froze or unfroze a facility's credits, when and why (NULL actor: the freeze controller).
      CREATE TABLE freeze_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        facility_id uuid NOT NULL REFERENCES facilities (id),
        block_id uuid NOT NULL,
        action text NOT NULL CHECK (action IN ('FREEZE', 'UNFREEZE')),
        actor_id uuid REFERENCES organizations (id),
        reason text NOT NULL,
        at timestamptz NOT NULL
      );
      CREATE INDEX freeze_events_facility_idx ON freeze_events (facility_id, id);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE freeze_events, recoveries, repayments, installments, facilities`);
  }
}
