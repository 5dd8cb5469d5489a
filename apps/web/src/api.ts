import type { TypedDocumentString } from './gql/graphql';
import { apiKey } from './session';

/** A GraphQL error in the user's terms: its `extensions.code` and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const CODE_TITLES: Record<string, string> = {
  UNAUTHENTICATED: 'Not signed in — the API key was not recognised or was revoked',
  FORBIDDEN: 'Not allowed for your organization',
  BAD_USER_INPUT: 'Please check the values entered',
  NOT_FOUND: 'Not found',
  INVALID_STATE: 'Not possible in the current state',
  INSUFFICIENT_FUNDS: 'Not enough money in the wallet',
  INSUFFICIENT_CAPACITY: 'Not enough capacity on the market',
  INSUFFICIENT_CREDITS: 'Not enough credits',
  CREDITS_FROZEN: 'These credits are frozen',
  PRICE_LIMIT_EXCEEDED: 'The price is above your limit',
  IDEMPOTENCY_CONFLICT: 'This request was already made with different values',
  RATE_LIMITED: 'Too many requests — wait a moment and try again',
  SERVICE_UNAVAILABLE: 'CCX is unavailable right now — try again shortly',
  INTERNAL_SERVER_ERROR: 'Something went wrong on the server',
  NETWORK: 'The server could not be reached',
};

/** "Title: message" for any error a page shows. */
export function describeError(error: unknown): { title: string; message: string; code: string } {
  if (error instanceof ApiError) {
    return { code: error.code, title: CODE_TITLES[error.code] ?? error.code, message: error.message };
  }
  return { code: 'UNKNOWN', title: 'Something went wrong', message: error instanceof Error ? error.message : String(error) };
}

/** POSTs one typed operation to /graphql with the session's key; data or an ApiError. */
export async function gql<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
    });
  } catch (error) {
    throw new ApiError('NETWORK', error instanceof Error ? error.message : String(error));
  }
  let body: { data?: TResult | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(response.status === 429 ? 'RATE_LIMITED' : 'INTERNAL_SERVER_ERROR', `HTTP ${response.status}`);
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.extensions?.code ?? 'INTERNAL_SERVER_ERROR', first.message);
  }
  return body.data as TResult;
}

/** A fresh idempotency key for one money-moving action (a retry of the same click reuses it). */
export function idempotencyKey(): string {
  // getRandomValues, not randomUUID: the latter needs a secure context (https or localhost).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
