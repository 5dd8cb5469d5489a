import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * SPEC §8: a rate may be zero, and such an event is accepted at 0.000000 credits and moves nothing
 * in the ledger (so it has no ledger transaction). Usage events may now cost zero.
 */
export class FreeUsage1763700000012 implements MigrationInterface {
  name = 'FreeUsage1763700000012';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE usage_events DROP CONSTRAINT usage_events_credits_check;
      ALTER TABLE usage_events ADD CONSTRAINT usage_events_credits_check CHECK (credits >= 0);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE usage_events DROP CONSTRAINT usage_events_credits_check;
      ALTER TABLE usage_events ADD CONSTRAINT usage_events_credits_check CHECK (credits > 0);
    `);
  }
}
