import { DomainError, ErrorCode } from '@ccx/core';
import { HTTP_STATUS_OF_CODE } from './error-status.js';
import { fromDomainError } from './openai-error.js';

// The answers SPEC §11 and §12 promise for each code: REST status, then OpenAI status/type/code.
const CASES: [ErrorCode, number, number, string, string][] = [
  [ErrorCode.UNAUTHENTICATED, 401, 401, 'authentication_error', 'invalid_api_key'],
  [ErrorCode.FORBIDDEN, 403, 403, 'permission_error', 'forbidden'],
  [ErrorCode.BAD_USER_INPUT, 400, 400, 'invalid_request_error', 'invalid_request'],
  [ErrorCode.NOT_FOUND, 404, 404, 'invalid_request_error', 'not_found'],
  [ErrorCode.INVALID_STATE, 422, 400, 'invalid_request_error', 'invalid_state'],
  [ErrorCode.INSUFFICIENT_FUNDS, 422, 400, 'invalid_request_error', 'insufficient_funds'],
  [ErrorCode.INSUFFICIENT_CAPACITY, 422, 400, 'invalid_request_error', 'insufficient_capacity'],
  [ErrorCode.INSUFFICIENT_CREDITS, 422, 402, 'insufficient_credits', 'insufficient_credits'],
  [ErrorCode.CREDITS_FROZEN, 422, 402, 'insufficient_credits', 'credits_frozen'],
  [ErrorCode.PRICE_LIMIT_EXCEEDED, 422, 400, 'invalid_request_error', 'price_limit_exceeded'],
  [ErrorCode.IDEMPOTENCY_CONFLICT, 409, 409, 'invalid_request_error', 'idempotency_conflict'],
  [ErrorCode.RATE_LIMITED, 429, 429, 'rate_limit_exceeded', 'rate_limit_exceeded'],
  [ErrorCode.SERVICE_UNAVAILABLE, 503, 503, 'api_error', 'service_unavailable'],
  [ErrorCode.INTERNAL, 500, 500, 'api_error', 'internal_error'],
];

describe('HTTP answers of the public error codes', () => {
  it('covers every code', () => {
    expect(CASES.map(([code]) => code).sort()).toEqual(Object.values(ErrorCode).sort());
    expect(Object.keys(HTTP_STATUS_OF_CODE).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it.each(CASES)('%s: REST %i, OpenAI %i %s/%s', (code, rest, status, type, openAiCode) => {
    expect(HTTP_STATUS_OF_CODE[code]).toBe(rest);
    const error = fromDomainError(new DomainError(code, 'why', { field: 'amount' }));
    expect([error.status, error.type, error.code, error.message, error.param]).toEqual([status, type, openAiCode, 'why', 'amount']);
  });
});
