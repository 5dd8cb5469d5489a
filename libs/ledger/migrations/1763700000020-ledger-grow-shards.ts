import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An account's shards may grow (`Ledger.growShards`): ledger_accounts stays immutable but for one
 * change, a larger `shards` with every other column as it was. The balance rows of the new shards
 * are inserted by the same statement at zero, so balances (sums over rows) do not move. Fewer
 * shards, or any other change, is refused as before (the rows that exist hold the balance).
 */
export class LedgerGrowShards1763700000020 implements MigrationInterface {
  name = 'LedgerGrowShards1763700000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION ledger_accounts_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'UPDATE' AND NEW.shards > OLD.shards
           AND (NEW.id, NEW.code, NEW.asset, NEW.owner_ref, NEW.allow_negative, NEW.allow_positive, NEW.metadata, NEW.created_at)
               IS NOT DISTINCT FROM (OLD.id, OLD.code, OLD.asset, OLD.owner_ref, OLD.allow_negative, OLD.allow_positive, OLD.metadata, OLD.created_at)
        THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'ledger: % on % is not allowed; ledger rows are immutable, post a correction instead',
          TG_OP, TG_TABLE_NAME USING ERRCODE = '55000';
      END
      $fn$;
      DROP TRIGGER ledger_accounts_immutable ON ledger_accounts;
      CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE ON ledger_accounts
        FOR EACH ROW EXECUTE FUNCTION ledger_accounts_guard();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TRIGGER ledger_accounts_immutable ON ledger_accounts;
      CREATE TRIGGER ledger_accounts_immutable BEFORE UPDATE OR DELETE ON ledger_accounts
        FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
      DROP FUNCTION ledger_accounts_guard();
    `);
  }
}
