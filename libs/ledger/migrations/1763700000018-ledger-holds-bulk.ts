import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Holds in bulk, one statement each, for callers that resolve many holds per database
 * transaction while they hold a lock (the gateway's group commit: docs/BENCHMARKS.md, Gateway).
 * Same rules and lock order as `HoldBook.createMany` / `HoldBook.voidMany`, which took three and
 * four round trips: the hold rows first (id order), then the balance rows (account id order).
 *
 * `ledger_create_holds`: all or nothing. Locks the debit balance rows, refuses (raises, so the
 * caller's transaction rolls back) when a limited account cannot cover the sum of its new holds
 * or a key was already used, inserts the holds and adds them to `held`. Validation, amounts and
 * the request hashes are computed by TypeScript (libs/ledger/src/hold-statements.ts). Returns
 * each new hold's id with its 1-based position in the arguments.
 *
 * `ledger_void_pending`: releases those of the given holds that are still PENDING (others are
 * left as they are, as `voidMany` does) and returns them. A PL/pgSQL caller (an app's own
 * function) can call it inside its statement, so a release costs it no round trip.
 */
export class LedgerHoldsBulk1763700000018 implements MigrationInterface {
  name = 'LedgerHoldsBulk1763700000018';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION ledger_create_holds(
        p_keys text[], p_hashes text[], p_debit bigint[], p_credit bigint[], p_asset text[], p_amount numeric[],
        p_expires timestamptz[], p_meta text[], p_no_neg boolean[]
      ) RETURNS TABLE (n int, id bigint) LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        r record;
        v_count int;
      BEGIN
        FOR r IN
          SELECT b.account_id, b.posted, b.held FROM ledger_balances b
          WHERE b.account_id = ANY(p_debit) AND b.shard = 0
          ORDER BY b.account_id FOR UPDATE
        LOOP
          IF r.posted - r.held < (SELECT coalesce(sum(x.m), 0) FROM unnest(p_debit, p_amount, p_no_neg) AS x(a, m, nn) WHERE x.a = r.account_id AND x.nn) THEN
            RAISE EXCEPTION 'ledger: LIMIT_EXCEEDED account % cannot cover its new holds', r.account_id USING ERRCODE = 'P0001';
          END IF;
        END LOOP;
        RETURN QUERY
          WITH ins AS (
            INSERT INTO ledger_holds (idempotency_key, request_hash, debit_account_id, credit_account_id, asset, amount, status, expires_at, metadata)
            SELECT x.k, x.h, x.d, x.c, x.a, x.m, 'PENDING', x.e, x.mt::jsonb
            FROM unnest(p_keys, p_hashes, p_debit, p_credit, p_asset, p_amount, p_expires, p_meta) WITH ORDINALITY AS x(k, h, d, c, a, m, e, mt, n)
            ORDER BY x.n
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING ledger_holds.id, ledger_holds.idempotency_key
          )
          SELECT k.n::int, ins.id FROM ins JOIN unnest(p_keys) WITH ORDINALITY AS k(key, n) ON k.key = ins.idempotency_key ORDER BY k.n;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count <> cardinality(p_keys) THEN
          RAISE EXCEPTION 'ledger: IDEMPOTENCY_CONFLICT a hold key of the batch was already used' USING ERRCODE = 'P0001';
        END IF;
        UPDATE ledger_balances b SET held = b.held + d.amount
        FROM (SELECT x.a, sum(x.m) AS amount FROM unnest(p_debit, p_amount) AS x(a, m) GROUP BY x.a) d
        WHERE b.account_id = d.a AND b.shard = 0;
      END
      $fn$;

      CREATE FUNCTION ledger_void_pending(p_ids bigint[], p_at timestamptz)
      RETURNS TABLE (id bigint, debit_account_id bigint, amount numeric, metadata jsonb) LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        v_ids bigint[];
      BEGIN
        SELECT array_agg(h.id ORDER BY h.id) INTO v_ids
        FROM (SELECT id FROM ledger_holds WHERE id = ANY(p_ids) AND status = 'PENDING' ORDER BY id FOR UPDATE) h;
        IF v_ids IS NULL THEN
          RETURN;
        END IF;
        PERFORM 1 FROM ledger_balances b
        WHERE b.shard = 0 AND b.account_id IN (SELECT h.debit_account_id FROM ledger_holds h WHERE h.id = ANY(v_ids))
        ORDER BY b.account_id FOR UPDATE;
        UPDATE ledger_balances b SET held = b.held - d.amount
        FROM (SELECT h.debit_account_id AS a, sum(h.amount) AS amount FROM ledger_holds h WHERE h.id = ANY(v_ids) GROUP BY 1) d
        WHERE b.account_id = d.a AND b.shard = 0;
        RETURN QUERY
          UPDATE ledger_holds h SET status = 'VOIDED', resolved_at = p_at WHERE h.id = ANY(v_ids)
          RETURNING h.id, h.debit_account_id, h.amount, h.metadata;
      END
      $fn$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION ledger_void_pending(bigint[], timestamptz);
      DROP FUNCTION ledger_create_holds(text[], text[], bigint[], bigint[], text[], numeric[], timestamptz[], text[], boolean[]);
    `);
  }
}
