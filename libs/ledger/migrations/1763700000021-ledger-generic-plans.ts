import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's posting and hold functions plan their statements once per connection, not on
 * every call, and always as index lookups.
 *
 * PL/pgSQL caches each statement's plan per session, but a statement with parameters is planned
 * afresh for its first five calls and then on every call whose generic plan the planner thinks
 * costlier than the custom ones, which `unnest()` and `= ANY()` of arguments of unknown length
 * make it do forever: in the gateway bench (docs/BENCHMARKS.md, Gateway) `ledger_post_one` took
 * 1.54 ms a call and `ledger_create_holds` 1.59 ms, with generic plans 0.95 ms each.
 *
 * A generic plan cannot see how many rows `unnest()` of an argument gives and guesses 10; against
 * a small `ledger_balances` (a few thousand rows) that made it hash-join a sequential scan of the
 * table, and `ledger_post_one` went from 1.26 to 1.48 ms a call in the ledger bench. These
 * functions join their arguments to balance, hold and transaction rows by primary key, a few
 * rows a call, so hash and merge joins are turned off for them: every plan is a nested loop over
 * index lookups, at any table size, with or without a cached plan.
 * The settings hold for the statements of the triggers they fire (the entries' check).
 */
export class LedgerGenericPlans1763700000021 implements MigrationInterface {
  name = 'LedgerGenericPlans1763700000021';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of FUNCTIONS) {
      await q.query(`ALTER FUNCTION ${fn} SET plan_cache_mode = force_generic_plan`);
      await q.query(`ALTER FUNCTION ${fn} SET enable_hashjoin = off`);
      await q.query(`ALTER FUNCTION ${fn} SET enable_mergejoin = off`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of FUNCTIONS) await q.query(`ALTER FUNCTION ${fn} RESET ALL`);
  }
}

/**
 * The entry points of a few rows a call (what they call inherits the settings). `ledger_post_batch`
 * is not one of them: a batch of 500 transfers joins a thousand cells, where a nested loop with a
 * guessed 10 rows on one side became quadratic (7,000 transfers/s instead of 18,000 in the ledger
 * bench's batches), and its planning is small beside its work.
 */
const FUNCTIONS = ['ledger_post_one', 'ledger_create_holds', 'ledger_void_pending'];
