import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import pg from 'pg';
import { dataSourceOptions, runMigrations } from '../../apps/api/src/database/data-source.js';

export interface TestDatabase {
  url: string;
  dataSource: DataSource;
  drop(): Promise<void>;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`global setup did not run (${name} missing)`);
  return value;
}

export function databaseUrl(name: string): string {
  const u = new URL(env('CCX_TEST_ADMIN_URL'));
  u.pathname = `/${name}`;
  return u.toString();
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

/** Migrates the run's template database once; test files running in parallel wait on a lock. */
async function ensureTemplate(): Promise<string> {
  const template = env('CCX_TEST_TEMPLATE');
  await admin(async (client) => {
    await client.query(`SELECT pg_advisory_lock(hashtext($1))`, [template]);
    try {
      const { rowCount } = await client.query(`SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate`, [template]);
      if (rowCount) return;
      await client.query(`DROP DATABASE IF EXISTS ${template}`);
      await client.query(`CREATE DATABASE ${template}`);
      await runMigrations(databaseUrl(template));
      await client.query(`ALTER DATABASE ${template} WITH IS_TEMPLATE true`);
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [template]);
    }
  });
  return template;
}

/** A fresh, migrated database of the calling test file's own (a clone of the template). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = await ensureTemplate();
  const name = `ccx_t_${env('CCX_TEST_RUN_ID')}_${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = databaseUrl(name);
  const dataSource = new DataSource({ ...dataSourceOptions(url), extra: { max: 30 } });
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
