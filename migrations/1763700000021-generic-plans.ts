import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gateway's cycle functions plan their statements once per connection, not on every call.
 *
 * PL/pgSQL caches each statement's plan per session, but a statement with parameters is planned
 * afresh for its first five calls and then on every call whose generic plan the planner thinks
 * costlier than the custom ones it made, which `= ANY($array)` and arguments of unknown length
 * make it do forever. In the gateway bench (pg_stat_statements, docs/BENCHMARKS.md, Gateway)
 * `gateway_cycle_begin` took 3.99 ms a call while its statements ran ~1.7 ms: the rest was
 * planning them again. With generic plans it took 1.82 ms, and `gateway_cycle_end` 1.19 ms
 * instead of 1.81. Their statements look rows up by key in tables that only grow, where one plan
 * fits every call. `usage_charge_begin` is created with the same setting (migration
 * 1763700000020). A function's setting holds for the functions it calls (`ledger_void_pending`
 * inside the begin call).
 *
 * The ledger's own posting functions keep PostgreSQL's default on purpose: forced generic plans
 * made `ledger_post_one` slower in the ledger bench (1.26 → 1.48 ms a call) because the generic
 * plan of its balance update guesses 10 rows for `unnest()` of its arguments and hash-joins a
 * seq scan of `ledger_balances` while that table is small (a few thousand rows).
 */
export class GenericPlans1763700000021 implements MigrationInterface {
  name = 'GenericPlans1763700000021';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of FUNCTIONS) await q.query(`ALTER FUNCTION ${fn} SET plan_cache_mode = force_generic_plan`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const fn of FUNCTIONS) await q.query(`ALTER FUNCTION ${fn} RESET plan_cache_mode`);
  }
}

const FUNCTIONS = ['gateway_cycle_begin', 'gateway_cycle_end'];
