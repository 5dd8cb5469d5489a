/**
 * The lifecycle of a financing request (SPEC §13), as one pure state machine: a buyer publishes
 * it OPEN; it becomes FUNDED when a facility offered on it is accepted, or WITHDRAWN by the buyer.
 * Both are final.
 */
/** Defined once: the table's column, this machine and the GraphQL enum `FinancingRequestStatus`. */
export const FinancingRequestStatus = { OPEN: 'OPEN', FUNDED: 'FUNDED', WITHDRAWN: 'WITHDRAWN' } as const;
export type FinancingRequestStatus = (typeof FinancingRequestStatus)[keyof typeof FinancingRequestStatus];

export type FinancingRequestEvent =
  | { type: 'WITHDRAW' }
  | { type: 'FUND'; facilityId: string }
  /** A lender names the request in an offer: it must still be OPEN. */
  | { type: 'OFFER' };

export type Transition =
  | { ok: true; patch: { status: FinancingRequestStatus; fundedByFacilityId?: string } | null }
  | { ok: false; reason: string };

export function transition(state: FinancingRequestStatus, event: FinancingRequestEvent): Transition {
  switch (event.type) {
    case 'OFFER':
      return state === 'OPEN' ? { ok: true, patch: null } : { ok: false, reason: `a ${state} financing request takes no offers` };
    case 'WITHDRAW':
      if (state === 'WITHDRAWN') return { ok: true, patch: null }; // a retried withdrawal changes nothing
      return state === 'OPEN' ? { ok: true, patch: { status: 'WITHDRAWN' } } : { ok: false, reason: `a ${state} financing request cannot be withdrawn` };
    case 'FUND':
      return state === 'OPEN'
        ? { ok: true, patch: { status: 'FUNDED', fundedByFacilityId: event.facilityId } }
        : { ok: false, reason: `the financing request this offer answers is ${state}; the offer can no longer be accepted` };
  }
}
