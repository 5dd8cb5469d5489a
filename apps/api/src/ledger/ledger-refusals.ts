import { DomainError, ErrorCode } from '@ccx/core';
import { Ledger, LedgerError, type LedgerReason } from '@ccx/ledger';

/**
 * The one place where the ledger's refusals get their public codes (SPEC §11). The ledger only
 * says why it refused (a LedgerReason); what a caller sees is the app's decision.
 */
const PUBLIC_CODE: Record<LedgerReason, ErrorCode> = {
  INVALID_AMOUNT: ErrorCode.BAD_USER_INPUT,
  INVALID_TRANSACTION: ErrorCode.BAD_USER_INPUT,
  UNBALANCED: ErrorCode.BAD_USER_INPUT,
  ACCOUNT_NOT_FOUND: ErrorCode.NOT_FOUND,
  ACCOUNT_CONFLICT: ErrorCode.INVALID_STATE,
  // A wallet that cannot pay is the common case; use cases remap for credit accounts.
  LIMIT_EXCEEDED: ErrorCode.INSUFFICIENT_FUNDS,
  IDEMPOTENCY_CONFLICT: ErrorCode.IDEMPOTENCY_CONFLICT,
  HOLD_NOT_FOUND: ErrorCode.NOT_FOUND,
  HOLD_RESOLVED: ErrorCode.INVALID_STATE,
  HOLD_EXPIRED: ErrorCode.INVALID_STATE,
};

/** The public code of a ledger refusal. */
export function publicCodeOf(reason: LedgerReason): ErrorCode {
  return PUBLIC_CODE[reason];
}

/**
 * A ledger refusal as the app's DomainError: the public code of its reason, the ledger's message
 * and `details` with the reason first (GraphQL shows `extensions.reason`). Use cases that know
 * better (which wallet was charged) catch it by `reason` and throw their own refusal instead.
 */
export class LedgerRefusal extends DomainError {
  constructor(
    readonly reason: LedgerReason,
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(PUBLIC_CODE[reason], message, { reason, ...details });
  }

  static of(error: LedgerError): LedgerRefusal {
    const refusal = new LedgerRefusal(error.reason, error.message, error.details);
    // Logs should point at where the ledger refused, not at this translation.
    refusal.stack = error.stack;
    return refusal;
  }
}

/** `error` in the app's terms when it is a ledger refusal; anything else unchanged. */
export function inPublicTerms(error: unknown): unknown {
  return error instanceof LedgerError ? LedgerRefusal.of(error) : error;
}

const LEDGER_METHODS = new Set(Object.getOwnPropertyNames(Ledger.prototype).filter((name) => name !== 'constructor'));

/**
 * The Ledger the app injects: the same object, except that every LedgerError its methods throw
 * arrives as a LedgerRefusal. Translating at this one boundary keeps every caller (the GraphQL
 * and REST error handlers, usage's per-event outcomes, the gateway, auto-refill) working with
 * DomainErrors only, while the library stays free of the app's codes.
 */
export function refusingInPublicTerms(ledger: Ledger): Ledger {
  const wrapped = new Map<string, unknown>();
  return new Proxy(ledger, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !LEDGER_METHODS.has(key) || typeof value !== 'function') return value;
      let method = wrapped.get(key);
      if (!method) {
        method = (...args: unknown[]) => {
          let result: unknown;
          try {
            result = value.apply(target, args);
          } catch (error) {
            throw inPublicTerms(error);
          }
          return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(inPublicTerms(error))) : result;
        };
        wrapped.set(key, method);
      }
      return method;
    },
  });
}
