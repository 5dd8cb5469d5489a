import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gateway's cycle functions plan their statements once per connection, not on every call (as
 * the ledger's posting functions, libs/ledger migration 1763700000021, which says why). In the
 * gateway bench `gateway_cycle_begin` took 3.99 ms a call, of which its statements' own execution
 * was ~1.7 ms: the rest was planning them again on every call. With generic plans it took 1.82 ms,
 * and `gateway_cycle_end` 1.19 ms instead of 1.81 (docs/BENCHMARKS.md, Gateway).
 * `usage_charge_begin` is created with the same setting (migration 1763700000020).
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
