import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One transaction's write as a function of its own: `ledger_post_one`, what the posting engine
 * calls when a write holds a single transaction (a transfer, a hold's capture); batches still go
 * to `ledger_post_batch` (migration 1763700000006). Same answers, same guarantees: the key is
 * looked up first (a replay or a conflict takes no lock), the balance rows are locked in the
 * ledger's one order (account id, shard) and judged on the locked values, a refusal re-reads the
 * key so a writer we waited for is answered as a replay (40001, retried), the transaction and
 * its entries are inserted (the entries in one statement, so the balance trigger checks them),
 * then the balances are updated.
 *
 * Why: profiled with pg_stat_statements (track = all) and the server's CPU time per call
 * (docs/BENCHMARKS.md, Ledger), `ledger_post_batch` costs about 1.15 ms of server CPU for one
 * transfer against 0.76 ms for this: no arrays of transactions and effects to index, no
 * optimistic pass inside a savepoint, no nested PL/pgSQL calls (their FunctionScans) and no
 * joins to number rows. For one transaction, locking before the inserts costs little: the
 * locks are held for this one statement and its commit either way.
 *
 * Arguments: the transaction; its entries (account, asset, signed amount, in order); its
 * balance cells (account, shard, the limits, and the change to posted and held, in the order
 * of the transaction's balance effects). Returns one row like `ledger_post_batch`'s.
 */
export class LedgerPostOne1763700000016 implements MigrationInterface {
  name = 'LedgerPostOne1763700000016';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION ledger_post_one(
        p_key text, p_hash text, p_kind text, p_memo text, p_meta text, p_at timestamptz,
        p_entry_account bigint[], p_entry_asset text[], p_entry_amount numeric[],
        p_cell_account bigint[], p_cell_shard smallint[], p_cell_no_neg boolean[], p_cell_no_pos boolean[],
        p_cell_posted numeric[], p_cell_held numeric[],
        OUT status text, OUT transaction_id bigint, OUT account_id bigint, OUT existing_hash text
      ) LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        r record;
        v_locked int := 0;
        v_bad int;
      BEGIN
        SELECT t.id, t.request_hash INTO transaction_id, existing_hash FROM ledger_transactions t WHERE t.idempotency_key = p_key;
        IF transaction_id IS NOT NULL THEN
          status := CASE WHEN existing_hash = p_hash THEN 'duplicate' ELSE 'conflict' END;
          RETURN;
        END IF;
        FOR r IN
          SELECT k.i::int AS i, b.posted, b.held
          FROM ledger_balances b
          JOIN unnest(p_cell_account, p_cell_shard) WITH ORDINALITY AS k(a, s, i) ON b.account_id = k.a AND b.shard = k.s
          ORDER BY b.account_id, b.shard
          FOR UPDATE OF b
        LOOP
          v_locked := v_locked + 1;
          IF (p_cell_no_neg[r.i] AND (r.posted + p_cell_posted[r.i]) - (r.held + p_cell_held[r.i]) < 0)
             OR (p_cell_no_pos[r.i] AND r.posted + p_cell_posted[r.i] > 0) THEN
            v_bad := least(v_bad, r.i);
          END IF;
        END LOOP;
        IF v_locked < cardinality(p_cell_account) THEN
          RAISE EXCEPTION 'ledger: no balance row for one of accounts %', p_cell_account USING ERRCODE = '23503';
        END IF;
        IF v_bad IS NOT NULL THEN
          IF EXISTS (SELECT 1 FROM ledger_transactions t WHERE t.idempotency_key = p_key) THEN
            RAISE EXCEPTION 'ledger: idempotency key raced with a concurrent transaction' USING ERRCODE = '40001';
          END IF;
          status := 'limit';
          account_id := p_cell_account[v_bad];
          RETURN;
        END IF;
        INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, memo, metadata, effective_at)
        VALUES (p_key, p_hash, p_kind, p_memo, p_meta::jsonb, p_at)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id INTO transaction_id;
        IF transaction_id IS NULL THEN
          RAISE EXCEPTION 'ledger: idempotency key raced with a concurrent transaction' USING ERRCODE = '40001';
        END IF;
        INSERT INTO ledger_entries (transaction_id, account_id, asset, amount, effective_at)
        SELECT transaction_id, x.a, x.s, x.m, p_at
        FROM unnest(p_entry_account, p_entry_asset, p_entry_amount) WITH ORDINALITY AS x(a, s, m, n)
        ORDER BY x.n;
        UPDATE ledger_balances b
        SET posted = b.posted + d.dp, held = b.held + d.dh
        FROM unnest(p_cell_account, p_cell_shard, p_cell_posted, p_cell_held) AS d(a, s, dp, dh)
        WHERE b.account_id = d.a AND b.shard = d.s AND (d.dp <> 0 OR d.dh <> 0);
        status := 'accepted';
      END
      $fn$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION ledger_post_one(text, text, text, text, text, timestamptz, bigint[], text[], numeric[],
        bigint[], smallint[], boolean[], boolean[], numeric[], numeric[]);
    `);
  }
}
