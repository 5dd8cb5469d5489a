import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 13: a charge reads a buyer's first spendable blocks in burn-down order (soonest expiry
 * first, blocks without one last, then oldest, then id) instead of every ACTIVE block. This index
 * is that order, per buyer, over ACTIVE blocks only, so the read stops after the blocks it needs
 * however many a buyer has bought (one per purchase).
 */
export class BurnDownIndex1763700000019 implements MigrationInterface {
  name = 'BurnDownIndex1763700000019';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX credit_blocks_burn_down_idx ON credit_blocks (organization_id, expires_at ASC NULLS LAST, created_at, id) WHERE status = 'ACTIVE'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX credit_blocks_burn_down_idx`);
  }
}
