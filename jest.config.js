/**
 * Three test tiers (STYLE.md), one jest run for all of them (`npm test`), one project each so a
 * tier runs on its own (`npm run test:unit|test:medium|test:e2e`, or `--selectProjects`):
 * - unit: pure specs beside the code, no database, so no global setup (no PostgreSQL, no console
 *   build) when only they are selected;
 * - medium: services and the ledger against the real PostgreSQL, without HTTP (`*.medium-spec.ts`,
 *   and libs/ledger's specs, which post to a real database);
 * - e2e: the real app over HTTP (test/*.e2e-spec.ts).
 * Medium and e2e share one global setup (jest runs the same module once per run): one real
 * PostgreSQL, embedded or DATABASE_URL, and each test file clones a migrated template database
 * (test/support/global-setup.mjs).
 */
const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleNameMapper: {
    '^@ccx/(core|ledger|finance)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
};

const withDatabase = {
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
};

// The ledger's own specs need a database but keep their names; a medium spec elsewhere says so
// in its name.
const ledgerSpecs = '<rootDir>/libs/ledger/**/*.spec.ts';

export default {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/libs/ledger/'],
    },
    {
      ...shared,
      ...withDatabase,
      displayName: 'medium',
      testMatch: ['<rootDir>/{libs,apps,test}/**/*.medium-spec.ts', ledgerSpecs],
    },
    {
      ...shared,
      ...withDatabase,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
    },
  ],
  maxWorkers: 2,
  testTimeout: 120000,
};
