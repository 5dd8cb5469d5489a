import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Correctness fixes of issue 12. A reservation's capacity is allocated month by month, each month
 * from the listings whose window covers its delivery (SPEC §6): `allocations.month` (0-based,
 * reservations only) says which delivery an allocation backs. Allocations made before it have
 * none and are delivered cheapest first, as they were.
 */
export class Correctness1763700000008 implements MigrationInterface {
  name = 'Correctness1763700000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE allocations ADD COLUMN month integer CHECK (month >= 0);
      ALTER TABLE allocations ADD CONSTRAINT allocations_month_reservation_only CHECK (month IS NULL OR purpose = 'RESERVATION');
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE allocations DROP CONSTRAINT allocations_month_reservation_only;
      ALTER TABLE allocations DROP COLUMN month;
    `);
  }
}
