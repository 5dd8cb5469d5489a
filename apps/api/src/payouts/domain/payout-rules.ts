/**
 * The lifecycle of a payout (SPEC §13), as one pure state machine: requested PENDING (the money
 * already out of the wallet); the operator marks it PAID with a bank reference, or REJECTED with a
 * reason, which returns the money. Both are final; repeating the same decision is a safe retry.
 */
/** Defined once: the payouts table's column, this machine and the GraphQL enum `PayoutStatus`. */
export const PayoutStatus = { PENDING: 'PENDING', PAID: 'PAID', REJECTED: 'REJECTED' } as const;
export type PayoutStatus = (typeof PayoutStatus)[keyof typeof PayoutStatus];

export type PayoutEvent = { type: 'MARK_PAID'; reference: string } | { type: 'REJECT'; reason: string };

export interface PayoutFacts {
  status: PayoutStatus;
  reference: string | null;
  reason: string | null;
}

export type PayoutEffect = 'SETTLE' | 'RETURN_FUNDS';

export type PayoutTransition =
  | { ok: true; patch: { status: PayoutStatus; reference?: string; reason?: string } | null; effect: PayoutEffect | null }
  | { ok: false; reason: string };

export function transition(payout: PayoutFacts, event: PayoutEvent): PayoutTransition {
  if (event.type === 'MARK_PAID') {
    if (payout.status === 'PENDING') return { ok: true, patch: { status: 'PAID', reference: event.reference }, effect: 'SETTLE' };
    if (payout.status === 'PAID' && payout.reference === event.reference) return { ok: true, patch: null, effect: null };
    return { ok: false, reason: `a ${payout.status} payout cannot be marked paid${payout.status === 'PAID' ? ' again with another reference' : ''}` };
  }
  if (payout.status === 'PENDING') return { ok: true, patch: { status: 'REJECTED', reason: event.reason }, effect: 'RETURN_FUNDS' };
  if (payout.status === 'REJECTED' && payout.reason === event.reason) return { ok: true, patch: null, effect: null };
  return { ok: false, reason: `a ${payout.status} payout cannot be rejected${payout.status === 'REJECTED' ? ' again with another reason' : ''}` };
}
