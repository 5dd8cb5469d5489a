import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The test clock's instant, shared by every API process on the database. One row at most; it
 * exists only when CCX_TEST_CLOCK=true has been used. Production time is the system clock.
 */
export class BusinessClock1763700000001 implements MigrationInterface {
  name = 'BusinessClock1763700000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE business_clock (
        id smallint PRIMARY KEY CHECK (id = 1),
        now timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE business_clock`);
  }
}
