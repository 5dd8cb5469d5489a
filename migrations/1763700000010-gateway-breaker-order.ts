import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The breaker's streak must follow the order of outcomes: successes are written in batches a
 * moment after they happen, so a batch may only end a streak of failures that all came before
 * its successes. `last_failure_at` lets the batched write tell.
 */
export class GatewayBreakerOrder1763700000010 implements MigrationInterface {
  name = 'GatewayBreakerOrder1763700000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE endpoint_circuits ADD COLUMN last_failure_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE endpoint_circuits DROP COLUMN last_failure_at`);
  }
}
