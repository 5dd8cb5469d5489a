import { DataSource, type DataSourceOptions } from 'typeorm';
import { migrations } from '../../../../migrations/index.js';

/**
 * The one TypeORM configuration, used by the app, the tests and the TypeORM CLI.
 * `synchronize` is off everywhere: the schema comes only from reviewed migrations.
 */
export function dataSourceOptions(url: string, options: { logErrors?: boolean } = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations,
    migrationsTableName: 'migrations',
    entities: [],
    // Failed queries are reported by the caller's error handling; TypeORM's own log would print SQL.
    logging: options.logErrors ? ['error'] : false,
    // pipeline: a statement is sent without waiting for the answers before it (node-postgres
    // pipelining), so a transaction's START TRANSACTION and COMMIT travel with its first and last
    // statements (withTransaction, commitWith in @ccx/ledger). Statements awaited one by one behave
    // as without it.
    extra: { max: 20, connectionTimeoutMillis: 5000, pipeline: true },
  };
}

/** Applies every pending migration (each in its own transaction). */
export async function runMigrations(url: string): Promise<void> {
  const dataSource = new DataSource({ ...dataSourceOptions(url), extra: { max: 1 } });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}
