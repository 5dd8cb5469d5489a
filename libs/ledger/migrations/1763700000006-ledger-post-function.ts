import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's write path as one server-side function (the shape of pgledger): lock the balance
 * rows in order, look up the idempotency keys, judge every transaction in order against the
 * balances the earlier ones left, insert the accepted ones with their entries, update the
 * balances — one statement and one round trip instead of three, with every inner statement's
 * plan cached by PL/pgSQL for the session. The balance locks are held for this one statement
 * (plus the caller's commit), not across round trips. Validation, amounts and hashing stay in
 * TypeScript (libs/ledger/src/posting-engine.ts), which passes the balance effects it computed.
 *
 * Also: the row-level foreign key ledger_entries.transaction_id goes (one trigger call per entry);
 * the statement trigger now checks that each entry's transaction exists, as it already did for
 * accounts. Entries still cannot outlive their transaction: both tables refuse UPDATE, DELETE
 * and TRUNCATE.
 */
export class LedgerPostFunction1763700000006 implements MigrationInterface {
  name = 'LedgerPostFunction1763700000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_transaction_id_fkey;

      CREATE OR REPLACE FUNCTION ledger_check_entries() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        IF EXISTS (
          SELECT 1 FROM new_entries n
          LEFT JOIN ledger_accounts a ON a.id = n.account_id
          LEFT JOIN ledger_assets s ON s.code = n.asset
          LEFT JOIN ledger_transactions t ON t.id = n.transaction_id
          WHERE a.id IS NULL OR a.asset <> n.asset OR scale(n.amount) > s.scale OR t.id IS NULL
        ) THEN
          RAISE EXCEPTION 'ledger: entry with an unknown account or transaction, a mismatched asset or too many decimals'
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

      -- Transactions are 1..n (unique idempotency keys). Entries and balance effects name their
      -- transaction by that index; effects name a balance cell by its index in p_cell_*.
      -- Returns one row per transaction, in order: status 'accepted' (transaction_id: the new
      -- row), 'duplicate' or 'conflict' (the key exists; transaction_id and existing_hash: the
      -- stored one's), or 'limit' (account_id: the first account whose limit it would break).
      -- A lost race on a key raises 40001, which callers retry (withTransaction).
      --
      -- Locks last: the first pass inserts every new transaction and its entries, then locks the
      -- balance rows (in the ledger's one order: account id, shard), judges, and updates them,
      -- so the locks are held for the judging and the update only, not for the inserts. When
      -- any transaction breaks a limit, that pass is rolled back (the block's savepoint) and a
      -- second pass locks first, judges, then inserts only the accepted ones. Both passes judge
      -- on locked rows, in order, so both give the answers of the lock-first ledger.
      CREATE FUNCTION ledger_post_batch(
        p_keys text[], p_hashes text[], p_kinds text[], p_memos text[], p_metas text[], p_ats timestamptz[],
        p_entry_tx int[], p_entry_account bigint[], p_entry_asset text[], p_entry_amount numeric[],
        p_cell_account bigint[], p_cell_shard smallint[], p_cell_no_neg boolean[], p_cell_no_pos boolean[],
        p_effect_tx int[], p_effect_cell int[], p_effect_posted numeric[], p_effect_held numeric[]
      ) RETURNS TABLE (status text, transaction_id bigint, account_id bigint, existing_hash text)
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        n int := coalesce(array_length(p_keys, 1), 0);
        n_cells int := coalesce(array_length(p_cell_account, 1), 0);
        n_effects int := coalesce(array_length(p_effect_tx, 1), 0);
        v_optimistic boolean := true;
        v_status text[];
        v_id bigint[];
        v_hash text[];
        v_account bigint[];
        v_posted numeric[];
        v_held numeric[];
        v_d_posted numeric[];
        v_d_held numeric[];
        r record;
        e int;
        e0 int;
        c int;
        np numeric;
        nh numeric;
        v_bad bigint;
        v_new int;
        v_inserted int;
        v_refused text[];
      BEGIN
        IF n = 0 THEN
          RETURN;
        END IF;
        <<attempt>>
        LOOP
          BEGIN
            v_status := array_fill(NULL::text, ARRAY[n]);
            v_id := array_fill(NULL::bigint, ARRAY[n]);
            v_hash := array_fill(NULL::text, ARRAY[n]);
            v_account := array_fill(NULL::bigint, ARRAY[n]);
            v_posted := array_fill(NULL::numeric, ARRAY[n_cells]);
            v_held := array_fill(NULL::numeric, ARRAY[n_cells]);
            v_d_posted := array_fill(0::numeric, ARRAY[n_cells]);
            v_d_held := array_fill(0::numeric, ARRAY[n_cells]);
            v_refused := '{}';
            v_new := 0;
            v_inserted := 0;

            IF NOT v_optimistic THEN
              SELECT f.posted, f.held INTO v_posted, v_held FROM ledger_lock_cells(p_cell_account, p_cell_shard) AS f;
            END IF;

            -- Keys already used. In the second pass this runs after the locks, so a writer we
            -- waited for is visible.
            FOR r IN
              SELECT k.i::int AS i, t.id, t.request_hash
              FROM unnest(p_keys) WITH ORDINALITY AS k(key, i)
              JOIN ledger_transactions t ON t.idempotency_key = k.key
            LOOP
              v_id[r.i] := r.id;
              v_hash[r.i] := r.request_hash;
              v_status[r.i] := CASE WHEN r.request_hash = p_hashes[r.i] THEN 'duplicate' ELSE 'conflict' END;
            END LOOP;
            FOR i IN 1..n LOOP
              IF v_status[i] IS NULL THEN
                v_status[i] := 'new';
                v_new := v_new + 1;
              END IF;
            END LOOP;
            EXIT attempt WHEN v_new = 0;

            IF v_optimistic THEN
              SELECT f.p_ids, f.inserted INTO v_id, v_inserted
              FROM ledger_insert_transactions(p_keys, p_hashes, p_kinds, p_memos, p_metas, p_ats,
                p_entry_tx, p_entry_account, p_entry_asset, p_entry_amount, v_status, v_id) AS f;
              IF v_inserted <> v_new THEN
                RAISE EXCEPTION 'ledger: idempotency key raced with a concurrent transaction' USING ERRCODE = '40001';
              END IF;
              SELECT f.posted, f.held INTO v_posted, v_held FROM ledger_lock_cells(p_cell_account, p_cell_shard) AS f;
            END IF;

            -- Judge in order; effects are grouped by transaction, in order.
            e := 1;
            FOR i IN 1..n LOOP
              e0 := e;
              WHILE e <= n_effects AND p_effect_tx[e] = i LOOP
                e := e + 1;
              END LOOP;
              CONTINUE WHEN v_status[i] <> 'new';
              v_bad := NULL;
              FOR k IN e0..e - 1 LOOP
                c := p_effect_cell[k];
                np := v_posted[c] + p_effect_posted[k];
                nh := v_held[c] + p_effect_held[k];
                IF (p_cell_no_neg[c] AND np - nh < 0) OR (p_cell_no_pos[c] AND np > 0) THEN
                  v_bad := p_cell_account[c];
                  EXIT;
                END IF;
              END LOOP;
              IF v_bad IS NOT NULL THEN
                IF v_optimistic THEN
                  -- Undo this pass's inserts (the block's savepoint) and judge before writing.
                  RAISE EXCEPTION 'ledger: a limit was hit, judging again lock first' USING ERRCODE = 'CCX01';
                END IF;
                v_status[i] := 'limit';
                v_account[i] := v_bad;
                v_refused := v_refused || p_keys[i];
                CONTINUE;
              END IF;
              FOR k IN e0..e - 1 LOOP
                c := p_effect_cell[k];
                v_posted[c] := v_posted[c] + p_effect_posted[k];
                v_held[c] := v_held[c] + p_effect_held[k];
                v_d_posted[c] := v_d_posted[c] + p_effect_posted[k];
                v_d_held[c] := v_d_held[c] + p_effect_held[k];
              END LOOP;
              v_status[i] := 'accepted';
            END LOOP;

            IF NOT v_optimistic THEN
              -- A writer of a refused key may have committed after the keys were read: its replay
              -- must be answered as a duplicate, not judged as new. Retry the whole transaction.
              IF cardinality(v_refused) > 0 AND EXISTS (SELECT 1 FROM ledger_transactions WHERE idempotency_key = ANY (v_refused)) THEN
                RAISE EXCEPTION 'ledger: idempotency key raced with a concurrent transaction' USING ERRCODE = '40001';
              END IF;
              v_new := v_new - cardinality(v_refused);
              IF v_new > 0 THEN
                SELECT f.p_ids, f.inserted INTO v_id, v_inserted
                FROM ledger_insert_transactions(p_keys, p_hashes, p_kinds, p_memos, p_metas, p_ats,
                  p_entry_tx, p_entry_account, p_entry_asset, p_entry_amount, v_status, v_id) AS f;
                IF v_inserted <> v_new THEN
                  RAISE EXCEPTION 'ledger: idempotency key raced with a concurrent transaction' USING ERRCODE = '40001';
                END IF;
              END IF;
            END IF;

            UPDATE ledger_balances b
            SET posted = b.posted + d.dp, held = b.held + d.dh
            FROM unnest(p_cell_account, p_cell_shard, v_d_posted, v_d_held) AS d(a, s, dp, dh)
            WHERE b.account_id = d.a AND b.shard = d.s AND (d.dp <> 0 OR d.dh <> 0);
            EXIT attempt;
          EXCEPTION WHEN SQLSTATE 'CCX01' THEN
            v_optimistic := false;
          END;
        END LOOP;

        RETURN QUERY
          SELECT v_status[j], v_id[j], v_account[j], v_hash[j] FROM generate_series(1, n) AS j;
      END
      $fn$;

      -- Locks the balance rows in the ledger's one lock order (account id, shard) and returns
      -- their balances by position in the arguments.
      CREATE FUNCTION ledger_lock_cells(p_account bigint[], p_shard smallint[], OUT posted numeric[], OUT held numeric[])
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        n int := coalesce(array_length(p_account, 1), 0);
        r record;
      BEGIN
        posted := array_fill(NULL::numeric, ARRAY[n]);
        held := array_fill(NULL::numeric, ARRAY[n]);
        FOR r IN
          SELECT k.i::int AS i, b.posted, b.held
          FROM ledger_balances b
          JOIN unnest(p_account, p_shard) WITH ORDINALITY AS k(a, s, i) ON b.account_id = k.a AND b.shard = k.s
          ORDER BY b.account_id, b.shard
          FOR UPDATE OF b
        LOOP
          posted[r.i] := r.posted;
          held[r.i] := r.held;
        END LOOP;
        FOR c IN 1..n LOOP
          IF posted[c] IS NULL THEN
            RAISE EXCEPTION 'ledger: no balance row for account % shard %', p_account[c], p_shard[c] USING ERRCODE = '23503';
          END IF;
        END LOOP;
      END
      $fn$;

      -- Inserts the transactions whose status is 'new' or 'accepted' with their entries; sets
      -- their ids into p_ids (INOUT) and returns how many were inserted (fewer when a key was
      -- taken meanwhile: ON CONFLICT DO NOTHING).
      CREATE FUNCTION ledger_insert_transactions(
        p_keys text[], p_hashes text[], p_kinds text[], p_memos text[], p_metas text[], p_ats timestamptz[],
        p_entry_tx int[], p_entry_account bigint[], p_entry_asset text[], p_entry_amount numeric[],
        p_status text[], INOUT p_ids bigint[], OUT inserted int
      ) LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        r record;
      BEGIN
        inserted := 0;
        FOR r IN
          WITH tx AS (
            INSERT INTO ledger_transactions (idempotency_key, request_hash, kind, memo, metadata, effective_at)
            SELECT t.k, t.h, t.kd, t.m, t.md::jsonb, t.at
            FROM unnest(p_keys, p_hashes, p_kinds, p_memos, p_metas, p_ats) WITH ORDINALITY AS t(k, h, kd, m, md, at, i)
            WHERE p_status[t.i] IN ('new', 'accepted')
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, idempotency_key
          ), keyed AS (
            SELECT k.i::int AS i, tx.id FROM tx JOIN unnest(p_keys) WITH ORDINALITY AS k(key, i) ON k.key = tx.idempotency_key
          ), ent AS (
            INSERT INTO ledger_entries (transaction_id, account_id, asset, amount, effective_at)
            SELECT keyed.id, x.account_id, x.asset, x.amount, p_ats[x.txi]
            FROM unnest(p_entry_tx, p_entry_account, p_entry_asset, p_entry_amount) WITH ORDINALITY AS x(txi, account_id, asset, amount, n)
            JOIN keyed ON keyed.i = x.txi
            ORDER BY x.n
          )
          SELECT keyed.i, keyed.id FROM keyed
        LOOP
          p_ids[r.i] := r.id;
          inserted := inserted + 1;
        END LOOP;
      END
      $fn$;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION ledger_post_batch(text[], text[], text[], text[], text[], timestamptz[], int[], bigint[], text[], numeric[],
        bigint[], smallint[], boolean[], boolean[], int[], int[], numeric[], numeric[]);
      DROP FUNCTION ledger_lock_cells(bigint[], smallint[]);
      DROP FUNCTION ledger_insert_transactions(text[], text[], text[], text[], text[], timestamptz[], int[], bigint[], text[], numeric[],
        text[], bigint[]);
      CREATE OR REPLACE FUNCTION ledger_check_entries() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
      ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_transaction_id_fkey
        FOREIGN KEY (transaction_id) REFERENCES ledger_transactions (id);
    `);
  }
}
