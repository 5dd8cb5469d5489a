export { Ledger, type PreparedPosts } from './ledger.js';
export { LedgerError, LedgerRetryableError, type LedgerReason } from './ledger-errors.js';
export { withTransaction, commitWith, sendTogether, isRetryable, type TransactionOptions, type Statement } from './transaction.js';
export type { PostHoldInput } from './holds.js';
export * from './types.js';
/** Named (prepared) statements on a transaction's connection, for the app's hot paths too. */
export { namedRows, type NamedSql } from './sql.js';
export { ledgerMigrations, Ledger1763700000000, LedgerPostFunction1763700000006, LedgerPostOne1763700000016, LedgerHoldsBulk1763700000018, LedgerGrowShards1763700000020, LedgerGenericPlans1763700000021, LedgerPostedId1763700000022 } from './migrations.js';
