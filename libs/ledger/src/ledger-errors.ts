/**
 * Why the ledger refused something. The ledger knows nothing of the app's public error codes:
 * the app maps each reason to one (apps/api/src/ledger/ledger-refusals.ts).
 */
export type LedgerReason =
  | 'INVALID_AMOUNT'
  | 'INVALID_TRANSACTION'
  | 'UNBALANCED'
  | 'ACCOUNT_NOT_FOUND'
  | 'ACCOUNT_CONFLICT'
  | 'LIMIT_EXCEEDED'
  | 'IDEMPOTENCY_CONFLICT'
  | 'HOLD_NOT_FOUND'
  | 'HOLD_RESOLVED'
  | 'HOLD_EXPIRED';

/**
 * A typed ledger refusal: a reason and the facts behind it (`accountId` for LIMIT_EXCEEDED and
 * ACCOUNT_NOT_FOUND, `problem` for INVALID_AMOUNT, `status` for HOLD_RESOLVED). Nothing was
 * written when it is thrown. Its message is for logs and may name internal account codes.
 */
export class LedgerError extends Error {
  constructor(
    readonly reason: LedgerReason,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

/**
 * Thrown when a concurrent writer won a race the ledger cannot resolve inside the current
 * database transaction (e.g. the same idempotency key committed between our check and our
 * insert). `withTransaction` rolls back and retries; callers never see it.
 */
export class LedgerRetryableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerRetryableError';
  }
}
