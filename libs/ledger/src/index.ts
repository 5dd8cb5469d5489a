export { Ledger } from './ledger.js';
export { LedgerError, LedgerRetryableError, type LedgerReason } from './ledger-errors.js';
export { withTransaction, isRetryable, type TransactionOptions } from './transaction.js';
export type { PostHoldInput } from './holds.js';
export * from './types.js';
