import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `ledger_posted_id(key)`: the id of the ledger transaction that the current database transaction
 * posted under `key`, for a statement sent in the same flight as the post, before its answer (and
 * so its id) is known (`Ledger.preparePostMany`, `commitWith`; docs/LEDGER.md).
 *
 * "Posted by the current database transaction" is the row's `xmin`: a transaction written earlier
 * under the same key (a replay answered as a duplicate) has another, and a refused post wrote no
 * row. Either way the function raises (P0002), the flight's transaction is aborted and its COMMIT
 * rolls it back: rows that point at a post are never committed without it. A post made inside a
 * savepoint has a subtransaction's `xmin` and raises too: the function is for top-level posts.
 */
export class LedgerPostedId1763700000022 implements MigrationInterface {
  name = 'LedgerPostedId1763700000022';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION ledger_posted_id(p_key text) RETURNS bigint
      LANGUAGE plpgsql AS $$
      DECLARE
        v_id bigint;
      BEGIN
        SELECT t.id INTO v_id FROM ledger_transactions t
        WHERE t.idempotency_key = p_key AND t.xmin = pg_current_xact_id()::xid;
        IF v_id IS NULL THEN
          RAISE EXCEPTION 'no ledger transaction was posted under key % in this database transaction', p_key
            USING ERRCODE = 'P0002';
        END IF;
        RETURN v_id;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION ledger_posted_id(text)`);
  }
}
