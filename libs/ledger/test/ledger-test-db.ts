import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { ledgerMigrations } from '../src/migrations.js';

/**
 * Throwaway databases for the ledger's own specs, holding the ledger's schema alone: the library
 * is tested without the app (libs/ledger imports only libs/core). It uses the PostgreSQL that
 * jest's global setup (test/support/global-setup.mjs) announces in the environment, and names its
 * databases `ccx_…<run id>…` so that the global teardown drops them with the app's.
 */
export interface TestDatabase {
  url: string;
  dataSource: DataSource;
  drop(): Promise<void>;
}
export type LedgerTestDatabase = TestDatabase;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`jest's global setup did not run (${name} missing)`);
  return value;
}

/** The URL of database `name` on the run's PostgreSQL. */
export function databaseUrl(name: string): string {
  const u = new URL(env('CCX_TEST_ADMIN_URL'));
  u.pathname = `/${name}`;
  return u.toString();
}

function options(url: string): DataSourceOptions {
  return { type: 'postgres', url, synchronize: false, migrationsRun: false, migrations: ledgerMigrations, migrationsTableName: 'migrations', entities: [], logging: false, extra: { pipeline: true } };
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: env('CCX_TEST_ADMIN_URL') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A template migrated once per run (spec files running in parallel wait on a lock), then one clone
 * of it per calling spec file. The app's test support (test/support/database.ts) makes its
 * databases the same way, with the app's migrations.
 */
export async function cloneOfTemplate(spec: {
  template: string;
  /** Clones are named `<prefix><run id>_<random>`: start with `ccx_` so the teardown drops them. */
  prefix: string;
  migrate(url: string): Promise<void>;
  options(url: string): DataSourceOptions;
}): Promise<TestDatabase> {
  const { template } = spec;
  await admin(async (client) => {
    await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [template]);
    try {
      const { rowCount } = await client.query(`SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate`, [template]);
      if (rowCount) return;
      await client.query(`DROP DATABASE IF EXISTS ${template}`);
      await client.query(`CREATE DATABASE ${template}`);
      await spec.migrate(databaseUrl(template));
      await client.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE true`);
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [template]);
    }
  });
  const name = `${spec.prefix}${env('CCX_TEST_RUN_ID')}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = databaseUrl(name);
  // The pool as the app has it (pipeline mode: data-source.ts), with room for the races.
  const base = spec.options(url);
  const dataSource = new DataSource({ ...base, extra: { ...(base.extra as object | undefined), max: 30 } });
  await dataSource.initialize();
  return {
    url,
    dataSource,
    drop: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function runLedgerMigrations(url: string): Promise<void> {
  const dataSource = new DataSource({ ...options(url), extra: { max: 1 } });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}

/** A fresh database with the ledger's migrations applied, of the calling spec file's own. */
export function createLedgerTestDatabase(): Promise<LedgerTestDatabase> {
  return cloneOfTemplate({ template: `ccx_ledger_tmpl_${env('CCX_TEST_RUN_ID')}`, prefix: 'ccx_ledger_', migrate: runLedgerMigrations, options });
}
