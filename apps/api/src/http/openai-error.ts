import { DomainError, ErrorCode } from '@ccx/core';

/**
 * An error answered in OpenAI's shape: `{"error":{"message","type","param","code",...}}`. It is a
 * transport shape, like GraphQL's error list, so it lives here: the REST filter answers the
 * OpenAI-compatible paths with it without importing the gateway module.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
    /** Extra fields of the error object (the 402's `available`, `required`, ...). */
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  body(): { error: Record<string, unknown> } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code, ...this.extra } };
  }
}

/**
 * OpenAI's status, type and code for each of CCX's codes; a Record over `ErrorCode`, so a new
 * code must be given its OpenAI counterpart here before the typecheck passes.
 */
const BY_CODE: Readonly<Record<ErrorCode, readonly [status: number, type: string, code: string]>> = {
  [ErrorCode.BAD_USER_INPUT]: [400, 'invalid_request_error', 'invalid_request'],
  [ErrorCode.UNAUTHENTICATED]: [401, 'authentication_error', 'invalid_api_key'],
  [ErrorCode.FORBIDDEN]: [403, 'permission_error', 'forbidden'],
  [ErrorCode.NOT_FOUND]: [404, 'invalid_request_error', 'not_found'],
  [ErrorCode.IDEMPOTENCY_CONFLICT]: [409, 'invalid_request_error', 'idempotency_conflict'],
  [ErrorCode.RATE_LIMITED]: [429, 'rate_limit_exceeded', 'rate_limit_exceeded'],
  [ErrorCode.SERVICE_UNAVAILABLE]: [503, 'api_error', 'service_unavailable'],
  [ErrorCode.INSUFFICIENT_CREDITS]: [402, 'insufficient_credits', 'insufficient_credits'],
  [ErrorCode.CREDITS_FROZEN]: [402, 'insufficient_credits', 'credits_frozen'],
  // The market's refusals have no OpenAI counterpart: a 400 named after CCX's code.
  [ErrorCode.INVALID_STATE]: [400, 'invalid_request_error', 'invalid_state'],
  [ErrorCode.INSUFFICIENT_FUNDS]: [400, 'invalid_request_error', 'insufficient_funds'],
  [ErrorCode.INSUFFICIENT_CAPACITY]: [400, 'invalid_request_error', 'insufficient_capacity'],
  [ErrorCode.PRICE_LIMIT_EXCEEDED]: [400, 'invalid_request_error', 'price_limit_exceeded'],
  [ErrorCode.INTERNAL]: [500, 'api_error', 'internal_error'],
};

/** The OpenAI-shaped counterpart of one of CCX's public errors (SPEC §11). */
export function fromDomainError(error: DomainError): GatewayError {
  const [status, type, code] = BY_CODE[error.code];
  const param = typeof error.details.param === 'string' ? error.details.param : typeof error.details.field === 'string' ? error.details.field : null;
  return new GatewayError(status, type, code, error.message, param);
}
