/**
 * pgledger (https://github.com/pgr0ss/pgledger) as the reference for the ledger bench's single
 * transfers: its SQL is read from a checkout named by PGLEDGER_SQL (nothing of it is in this
 * repository), loaded into a scratch database of its own on the bench's PostgreSQL, and driven
 * with the same workers, pool and random-pairs workload as CCX's ledger.
 *
 * PGLEDGER_SQL: the path of `pgledger.sql` in a pgledger checkout; the vendored ULID helpers its
 * README says to load first (`vendor/scoville-pgsql-ulid/ulid-to-uuid.sql`, `uuid-to-ulid.sql`)
 * are loaded from beside it. Or several paths separated by `:`, loaded in that order.
 *
 * Each transfer is pgledger's own benchmark call (go/performance_check.go):
 * `select id from pgledger_create_transfer($1, $2, $3)`, one autocommitted statement, sent as a
 * named statement as pgx (its benchmark's driver) prepares it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createThrowawayDatabase } from '../../scripts/lib/api-process.js';
import { onCleanup } from '../../scripts/lib/local-server.js';

/** The SQL files to load, in order, for PGLEDGER_SQL. */
export function pgledgerFiles(setting: string): string[] {
  const paths = setting.split(':').filter(Boolean);
  if (paths.length > 1) return paths;
  const vendor = join(dirname(paths[0]), 'vendor', 'scoville-pgsql-ulid');
  const helpers = ['ulid-to-uuid.sql', 'uuid-to-ulid.sql'].map((f) => join(vendor, f)).filter((f) => existsSync(f));
  return [...helpers, paths[0]];
}

export class Pgledger {
  private constructor(
    readonly pool: pg.Pool,
    readonly database: string,
  ) {}

  /** A scratch database on the server of `serverUrl` with pgledger's SQL loaded (dropped at cleanup). */
  static async load(serverUrl: string, files: string[], poolSize: number): Promise<Pgledger> {
    const name = `ccx_bench_pgledger_${randomBytes(4).toString('hex')}`;
    const { url, drop } = await createThrowawayDatabase(serverUrl, name);
    const pool = new pg.Pool({ connectionString: url, max: poolSize });
    // An idle client whose connection the server ends (the scratch database dropped WITH (FORCE),
    // the embedded server stopping) emits 'error' on the pool; without a listener that ended the
    // whole bench with exit code 1 after its figures, which stopped `npm run bench` there.
    pool.on('error', (error) => process.stderr.write(`[bench:ledger] pgledger pool: ${error.message}\n`));
    onCleanup(async () => {
      await pool.end().catch(() => {});
      await drop();
    });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (const file of files) await client.query(readFileSync(file, 'utf8'));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    return new Pgledger(pool, name);
  }

  async createAccount(name: string, allowNegative: boolean): Promise<string> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM pgledger_create_account($1, 'USD', $2, true)`,
      [name, allowNegative],
    );
    return rows[0].id;
  }

  /** One transfer, as pgledger's benchmark makes it. */
  async transfer(from: string, to: string, amount: string): Promise<string> {
    const { rows } = await this.pool.query<{ id: string }>({
      name: 'pgledger_transfer',
      text: 'SELECT id FROM pgledger_create_transfer($1, $2, $3)',
      values: [from, to, amount],
    });
    return rows[0].id;
  }

  /**
   * pgledger's own invariants, on one snapshot: every account's balance is the sum of its
   * entries, every transfer has its two entries, and all balances sum to zero.
   */
  async verify(): Promise<{ verified: boolean; problems: string[] }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const [{ total }] = (await client.query<{ total: string }>(`SELECT coalesce(sum(balance), 0)::text AS total FROM pgledger_accounts`)).rows;
      const { rows: drift } = await client.query<{ id: string }>(
        `SELECT a.id FROM pgledger_accounts a
         LEFT JOIN (SELECT account_id, sum(amount) AS s FROM pgledger_entries GROUP BY account_id) e ON e.account_id = a.id
         WHERE a.balance <> coalesce(e.s, 0) LIMIT 5`,
      );
      const [{ transfers, entries }] = (
        await client.query<{ transfers: string; entries: string }>(
          `SELECT (SELECT count(*) FROM pgledger_transfers)::text AS transfers, (SELECT count(*) FROM pgledger_entries)::text AS entries`,
        )
      ).rows;
      await client.query('COMMIT');
      const problems: string[] = [];
      if (Number(total) !== 0) problems.push(`balances sum to ${total}`);
      for (const d of drift) problems.push(`account ${d.id} drifted from its entries`);
      if (Number(entries) !== 2 * Number(transfers)) problems.push(`${transfers} transfers but ${entries} entries`);
      return { verified: problems.length === 0, problems };
    } finally {
      client.release();
    }
  }
}
