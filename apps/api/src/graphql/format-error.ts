import { Logger } from '@nestjs/common';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '@ccx/core';
import { publicMessage } from '../common/refusals.js';

const logger = new Logger('GraphQLError');

/** Codes produced by the GraphQL layer itself that are safe to pass through unchanged. */
const PROTOCOL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  ErrorCode.BAD_USER_INPUT,
]);

/** PostgreSQL/driver failures that mean "the database cannot be reached right now". */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { name?: string; code?: string; message?: string; driverError?: { code?: string } } | undefined;
  const code = e?.driverError?.code ?? e?.code;
  // EPIPE: a statement written to a connection the server has just closed (with the pool's
  // pipeline mode a statement is written at once, without waiting for the one before it).
  if (code && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE')) {
    return true;
  }
  // The connection died inside a transaction: TypeORM's query runner releases itself on the pg
  // client's 'error' event, and the transaction's next query (or its COMMIT) fails with one of
  // these instead of the driver's error.
  if (e?.name === 'QueryRunnerProviderAlreadyReleasedError' || e?.name === 'QueryRunnerAlreadyReleasedError') return true;
  const message = e?.message ?? '';
  return /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Connection ended unexpectedly|connection error and is not queryable|Client was closed and is not queryable/i.test(message);
}

/**
 * PostgreSQL refusing a value that came from the request: NUL in text (22021) or in JSON (22P05),
 * an unpaired surrogate in JSON metadata (22P02 "type json"), a date it cannot hold (22007/22008).
 * Input parsing should catch these first; this is the net under it, so that such a request is
 * the caller's BAD_USER_INPUT (its transaction rolled back) and never an internal error.
 */
export function isUnstorableInput(error: unknown): boolean {
  const e = error as { code?: string; message?: string; driverError?: { code?: string } } | undefined;
  const code = e?.driverError?.code ?? e?.code;
  if (code === '22021' || code === '22P05' || code === '22007' || code === '22008') return true;
  return code === '22P02' && /type json/i.test(e?.message ?? '');
}

export const UNSTORABLE_INPUT_MESSAGE =
  'the request holds a value that cannot be stored: text must not contain NUL characters or unpaired surrogates, and dates must fall in the years 0001 to 9999';

export const SERVICE_UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; try again shortly';

function originalOf(error: unknown): unknown {
  let current = error as { originalError?: unknown } | undefined;
  while (current && current.originalError && current.originalError !== current) {
    current = current.originalError as { originalError?: unknown };
  }
  return current;
}

/**
 * Apollo refuses some requests before they run with a bare GraphQLError that has no code of its
 * own, only an HTTP status (a persisted-query hash that does not match the query, an unsupported
 * persisted-query version): Apollo would then default the code to INTERNAL_SERVER_ERROR. Such an
 * error was raised by Apollo about the request (no original error under it, no field path) and
 * says so with its 4xx status: it is the caller's BAD_REQUEST, not a fault of ours.
 */
function isRequestError(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.originalError || error.path) return false;
  const status = (error.extensions?.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * The one place where failures become GraphQL errors (SPEC §11). Domain errors keep their code
 * and message; protocol errors pass through, and Apollo's uncoded request errors become
 * BAD_REQUEST; anything else is logged and answered with a generic message, so no stack trace, SQL or foreign data ever reaches a caller.
 */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = originalOf(error);
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };

  if (original instanceof DomainError) {
    return { ...base, message: publicMessage(original), extensions: { code: original.code, ...publicDetails(original) } };
  }
  const code = String(formatted.extensions?.code ?? '');
  // A bad value inside a literal fails validation; to the caller it is bad input.
  const scalarCode = (original as { extensions?: { code?: string } } | undefined)?.extensions?.code;
  if (scalarCode === ErrorCode.BAD_USER_INPUT) {
    return { ...base, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  if (PROTOCOL_CODES.has(code) || code === ErrorCode.UNAUTHENTICATED || code === ErrorCode.FORBIDDEN) {
    return { ...base, extensions: { code } };
  }
  if (isRequestError(error)) return { ...base, extensions: { code: 'BAD_REQUEST' } };
  if (isUnstorableInput(original)) {
    logger.warn(`unvalidated input reached the database: ${(original as Error).message}`);
    return { ...base, message: UNSTORABLE_INPUT_MESSAGE, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  if (isDatabaseUnavailable(original)) {
    return { ...base, message: SERVICE_UNAVAILABLE_MESSAGE, extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } };
  }
  logger.error(original instanceof Error ? (original.stack ?? original.message) : String(original));
  return { ...base, message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL } };
}

function publicDetails(error: DomainError): Record<string, unknown> {
  const { reason, problem, field } = error.details as Record<string, unknown>;
  return Object.fromEntries(Object.entries({ reason, problem, field }).filter(([, v]) => v !== undefined));
}
