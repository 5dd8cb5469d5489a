import { DomainError, ErrorCode } from '@ccx/core';

/** Why the ledger refused something; finer than the public code, for callers that remap it. */
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

const PUBLIC_CODE: Record<LedgerReason, ErrorCode> = {
  INVALID_AMOUNT: ErrorCode.BAD_USER_INPUT,
  INVALID_TRANSACTION: ErrorCode.BAD_USER_INPUT,
  UNBALANCED: ErrorCode.BAD_USER_INPUT,
  ACCOUNT_NOT_FOUND: ErrorCode.NOT_FOUND,
  ACCOUNT_CONFLICT: ErrorCode.INVALID_STATE,
  // A wallet that cannot pay is the common case; domain code remaps for credit accounts.
  LIMIT_EXCEEDED: ErrorCode.INSUFFICIENT_FUNDS,
  IDEMPOTENCY_CONFLICT: ErrorCode.IDEMPOTENCY_CONFLICT,
  HOLD_NOT_FOUND: ErrorCode.NOT_FOUND,
  HOLD_RESOLVED: ErrorCode.INVALID_STATE,
  HOLD_EXPIRED: ErrorCode.INVALID_STATE,
};

/** A typed ledger refusal. Nothing was written when it is thrown. */
export class LedgerError extends DomainError {
  constructor(
    readonly reason: LedgerReason,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(PUBLIC_CODE[reason], message, { reason, ...details });
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
