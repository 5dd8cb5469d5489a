import { dataSourceOptions, runMigrations } from '../../apps/api/src/database/data-source.js';
import { cloneOfTemplate, databaseUrl, type TestDatabase } from '../../libs/ledger/test/ledger-test-db.js';

export { databaseUrl, type TestDatabase };

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`global setup did not run (${name} missing)`);
  return value;
}

/** A fresh, migrated database of the calling test file's own (a clone of the run's template). */
export function createTestDatabase(): Promise<TestDatabase> {
  return cloneOfTemplate({ template: env('CCX_TEST_TEMPLATE'), prefix: 'ccx_t_', migrate: runMigrations, options: dataSourceOptions });
}
