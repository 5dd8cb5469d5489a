import type { DataSource } from 'typeorm';

/**
 * The tables partitioned by UTC calendar month (migration 1763700000017, docs/PARTITIONING.md):
 * usage's events (by `occurred_at`) and the gateway's request log (by `created_at`). Each has a
 * DEFAULT partition, so a row is always stored; a missing month partition costs speed, never data.
 */
export const MONTHLY_PARTITIONED_TABLES = ['usage_events', 'inference_requests'] as const;

/** Month partitions are kept from the month before the business clock to this many after it. */
export const MONTHS_AHEAD = 3;

/**
 * How long maintenance waits for a table lock before giving up (it is retried at the next
 * servicing run): attaching a partition takes the DEFAULT partition's ACCESS EXCLUSIVE lock, and
 * writers of that partition queue behind a waiting maintainer.
 */
const LOCK_TIMEOUT = '5s';

/**
 * Creates the missing month partitions of every partitioned table, from the month before `now` (the
 * business clock's instant) to MONTHS_AHEAD months after it; rows of those months that went to the
 * DEFAULT partition meanwhile (the test clock jumps forward) move into their new partition. One
 * transaction; idempotent; safe when several processes run it at once (the SQL function takes an
 * advisory lock). Returns how many partitions it created. Retention (detaching or dropping old
 * months) is never done here: it is an operator's procedure (docs/PARTITIONING.md).
 */
export async function ensureMonthlyPartitions(dataSource: DataSource, now: Date, monthsAhead = MONTHS_AHEAD): Promise<number> {
  const from = addUtcMonths(now, -1);
  const to = addUtcMonths(now, monthsAhead);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      await runner.query(`SELECT set_config('lock_timeout', $1, true)`, [LOCK_TIMEOUT]);
      let created = 0;
      for (const table of MONTHLY_PARTITIONED_TABLES) {
        const [row] = await runner.query(`SELECT ensure_monthly_partitions($1::regclass, $2, $3) AS created`, [table, from, to]);
        created += Number(row.created);
      }
      await runner.commitTransaction();
      return created;
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
  } finally {
    await runner.release();
  }
}

/** The first instant of the UTC month `months` months from `at`'s. */
export function addUtcMonths(at: Date, months: number): Date {
  const d = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter reads years 0–99 as 1900–1999.
  d.setUTCFullYear(at.getUTCFullYear(), at.getUTCMonth() + months, 1);
  return d;
}
