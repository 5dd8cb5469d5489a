import type { Decimal } from '@ccx/core';

/**
 * What a movement of a USD wallet was (SPEC §13), named from the ledger transaction that made it:
 * its `kind`, the sign of the wallet's entry, its metadata and whose wallet it is. Pure.
 */
export type WalletEntryKind =
  | 'deposit'
  | 'purchase'
  | 'reservation_delivery'
  | 'termination_fee'
  | 'sale_proceeds'
  | 'overflow_earnings'
  | 'facility_funding'
  | 'financing_fee'
  | 'repayment'
  | 'recovery'
  | 'surplus'
  | 'payout'
  | 'payout_returned';

export interface WalletMovement {
  /** The ledger transaction's kind, e.g. "purchase.standard". */
  transactionKind: string;
  metadata: Record<string, unknown>;
  /** Signed: positive into the wallet. */
  amount: Decimal;
  /** The role of the wallet's organization. */
  ownerRole: string;
}

export interface DescribedEntry {
  /** One of WalletEntryKind; a transaction kind this table does not know is passed through ("a.b" → "a_b"). */
  kind: string;
  /** "purchase:<id>", "facility:<id>", …, or null. */
  reference: string | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.length ? v : null);
const ref = (prefix: string, v: unknown): string | null => (text(v) ? `${prefix}:${text(v)}` : null);

export function describeWalletEntry(m: WalletMovement): DescribedEntry {
  const md = m.metadata ?? {};
  const incoming = m.amount.gt(0);
  switch (m.transactionKind) {
    case 'deposit':
      return { kind: 'deposit', reference: ref('deposit', md.reference) };
    case 'purchase.standard':
      return { kind: incoming ? 'sale_proceeds' : 'purchase', reference: ref('purchase', md.purchaseId) };
    case 'reservation.delivery':
      return { kind: incoming ? 'sale_proceeds' : 'reservation_delivery', reference: ref('reservation', md.reservationId) };
    case 'reservation.cancel':
      return { kind: 'termination_fee', reference: ref('reservation', md.reservationId) };
    case 'facility.accept': {
      if (incoming) return { kind: 'sale_proceeds', reference: ref('facility', md.facilityId) };
      // The lender's principal leaves as two entries: the fee, and the rest buying capacity.
      const fee = text(md.financingFee);
      const isFee = fee !== null && m.amount.negated().eq(fee);
      return { kind: isFee ? 'financing_fee' : 'facility_funding', reference: ref('facility', md.facilityId) };
    }
    case 'facility.repayment':
      return { kind: 'repayment', reference: ref('facility', md.facilityId) };
    case 'facility.recovery':
      // The lender receives the recovery; the borrower, the surplus beyond what it owed.
      return { kind: m.ownerRole === 'BUYER' ? 'surplus' : 'recovery', reference: ref('facility', md.facilityId) };
    case 'gateway.overflow':
      return { kind: 'overflow_earnings', reference: ref('listing', md.listingId) };
    case 'payout.request':
      return { kind: 'payout', reference: ref('payout', md.payoutId) };
    case 'payout.return':
      return { kind: 'payout_returned', reference: ref('payout', md.payoutId) };
    default:
      return {
        kind: m.transactionKind.replace(/[^A-Za-z0-9]+/g, '_').toLowerCase(),
        reference: ref('purchase', md.purchaseId) ?? ref('reservation', md.reservationId) ?? ref('facility', md.facilityId) ?? ref('payout', md.payoutId),
      };
  }
}
