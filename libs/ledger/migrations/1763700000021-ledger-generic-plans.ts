import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's posting functions plan their statements once per connection, not on every call.
 *
 * PL/pgSQL caches each statement's plan per session, but a statement with parameters is planned
 * afresh for its first five calls and then on every call whose generic plan the planner thinks
 * costlier than the custom ones it made, which is the case for `= ANY($array)` and unnest() of
 * arguments of unknown length: these functions were planned on every call. In the gateway bench
 * (pg_stat_statements, docs/BENCHMARKS.md, Gateway), `ledger_post_one` took 1.54 ms a call and
 * `ledger_create_holds` 1.59 ms, of which their statements' own execution was ~1 ms; with generic
 * plans they took 0.95 ms each. Their statements look rows up by key and lock them in key order,
 * for which one plan fits every call.
 */
export class LedgerGenericPlans1763700000021 implements MigrationInterface {
  name = 'LedgerGenericPlans1763700000021';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of FUNCTIONS) await q.query(`ALTER FUNCTION ${fn} SET plan_cache_mode = force_generic_plan`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of FUNCTIONS) await q.query(`ALTER FUNCTION ${fn} RESET plan_cache_mode`);
  }
}

const FUNCTIONS = ['ledger_post_batch', 'ledger_post_one', 'ledger_lock_cells', 'ledger_insert_transactions', 'ledger_create_holds', 'ledger_void_pending'];
