import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The double-entry ledger (libs/ledger). The database itself enforces what must never break,
 * whatever the code does:
 * - entries are inserted with their transaction in one statement, and a statement-level trigger
 *   rejects any statement whose entries do not sum to zero per transaction and asset, reference
 *   an unknown account, mix assets, or exceed the asset's scale;
 * - transactions, entries, assets and accounts cannot be UPDATEd, DELETEd or TRUNCATEd;
 * - a limited balance row carries its account's flags and CHECKs them on every change.
 */
export class Ledger1763700000000 implements MigrationInterface {
  name = 'Ledger1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ledger_assets (
        code text PRIMARY KEY,
        scale smallint NOT NULL CHECK (scale BETWEEN 0 AND 18)
      );
      INSERT INTO ledger_assets (code, scale) VALUES ('USD', 2), ('CREDIT', 6);

      CREATE TABLE ledger_accounts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        code text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 200),
        asset text NOT NULL REFERENCES ledger_assets (code),
        owner_ref text,
        allow_negative boolean NOT NULL,
        allow_positive boolean NOT NULL,
        shards smallint NOT NULL DEFAULT 1 CHECK (shards BETWEEN 1 AND 64),
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (allow_negative OR allow_positive),
        CHECK (shards = 1 OR (allow_negative AND allow_positive))
      );
      CREATE INDEX ledger_accounts_owner_idx ON ledger_accounts (owner_ref);

      CREATE TABLE ledger_balances (
        account_id bigint NOT NULL REFERENCES ledger_accounts (id),
        shard smallint NOT NULL,
        allow_negative boolean NOT NULL,
        allow_positive boolean NOT NULL,
        posted numeric NOT NULL DEFAULT 0,
        held numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, shard),
        CONSTRAINT ledger_balance_held_not_negative CHECK (held >= 0),
        CONSTRAINT ledger_balance_not_negative CHECK (allow_negative OR posted - held >= 0),
        CONSTRAINT ledger_balance_not_positive CHECK (allow_positive OR posted <= 0)
      );

      CREATE TABLE ledger_transactions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash text NOT NULL,
        kind text NOT NULL,
        memo text,
        metadata jsonb NOT NULL DEFAULT '{}',
        effective_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );

      -- No foreign key to ledger_accounts: an FK check takes a KEY SHARE lock on the account row
      -- for every entry, which turns hot accounts into a bottleneck. The statement trigger below
      -- checks existence and asset instead, once per statement.
      CREATE TABLE ledger_entries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
        account_id bigint NOT NULL,
        asset text NOT NULL,
        amount numeric NOT NULL CHECK (amount <> 0),
        effective_at timestamptz NOT NULL
      );
      CREATE INDEX ledger_entries_account_idx ON ledger_entries (account_id, id);
      CREATE INDEX ledger_entries_account_time_idx ON ledger_entries (account_id, effective_at);
      CREATE INDEX ledger_entries_transaction_idx ON ledger_entries (transaction_id);

      CREATE TABLE ledger_holds (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        idempotency_key text NOT NULL UNIQUE,
        request_hash text NOT NULL,
        debit_account_id bigint NOT NULL REFERENCES ledger_accounts (id),
        credit_account_id bigint NOT NULL REFERENCES ledger_accounts (id),
        asset text NOT NULL,
        amount numeric NOT NULL CHECK (amount > 0),
        posted_amount numeric CHECK (posted_amount > 0 AND posted_amount <= amount),
        status text NOT NULL CHECK (status IN ('PENDING', 'POSTED', 'VOIDED', 'EXPIRED')),
        expires_at timestamptz NOT NULL,
        transaction_id bigint REFERENCES ledger_transactions (id),
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        resolved_at timestamptz,
        CHECK ((status = 'POSTED') = (transaction_id IS NOT NULL))
      );
      CREATE INDEX ledger_holds_pending_idx ON ledger_holds (expires_at) WHERE status = 'PENDING';
      CREATE INDEX ledger_holds_account_idx ON ledger_holds (debit_account_id) WHERE status = 'PENDING';

      CREATE FUNCTION ledger_check_entries() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF EXISTS (
          SELECT 1 FROM new_entries n
          LEFT JOIN ledger_accounts a ON a.id = n.account_id
          LEFT JOIN ledger_assets s ON s.code = n.asset
          WHERE a.id IS NULL OR a.asset <> n.asset OR scale(n.amount) > s.scale
        ) THEN
          RAISE EXCEPTION 'ledger: entry with an unknown account, a mismatched asset or too many decimals'
            USING ERRCODE = '23514';
        END IF;
        IF EXISTS (
          SELECT 1 FROM new_entries GROUP BY transaction_id, asset HAVING sum(amount) <> 0
        ) THEN
          RAISE EXCEPTION 'ledger: unbalanced transaction' USING ERRCODE = '23514';
        END IF;
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
        REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_entries();

      CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        RAISE EXCEPTION 'ledger: % on % is not allowed; ledger rows are immutable, post a correction instead',
          TG_OP, TG_TABLE_NAME USING ERRCODE = '55000';
      END
      $fn$;
      CREATE TRIGGER ledger_transactions_immutable BEFORE UPDATE OR DELETE ON ledger_transactions
        FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
      CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
      CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
      CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
      CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE ON ledger_accounts
        FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
      CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
      CREATE TRIGGER ledger_assets_immutable BEFORE UPDATE OR DELETE ON ledger_assets
        FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE ledger_holds, ledger_entries, ledger_transactions, ledger_balances, ledger_accounts, ledger_assets;
      DROP FUNCTION ledger_check_entries(), ledger_immutable();
    `);
  }
}
