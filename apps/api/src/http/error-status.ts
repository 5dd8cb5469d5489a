import { ErrorCode } from '@ccx/core';

/**
 * The HTTP status of each public error code on the REST endpoints (SPEC §11). A Record over
 * `ErrorCode`, so a new code fails the typecheck here until it is given a status, rather than
 * quietly answering 422. The refusals a caller can fix by changing the state of things (not the
 * request) are 422.
 */
export const HTTP_STATUS_OF_CODE: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.INVALID_STATE]: 422,
  [ErrorCode.INSUFFICIENT_FUNDS]: 422,
  [ErrorCode.INSUFFICIENT_CAPACITY]: 422,
  [ErrorCode.INSUFFICIENT_CREDITS]: 422,
  [ErrorCode.CREDITS_FROZEN]: 422,
  [ErrorCode.PRICE_LIMIT_EXCEEDED]: 422,
  [ErrorCode.IDEMPOTENCY_CONFLICT]: 409,
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
  [ErrorCode.INTERNAL]: 500,
};
