import { Decimal } from '@ccx/core';
import { describeWalletEntry } from './wallet-entry-kind.js';

const cases: [string, string, Record<string, unknown>, string, string, string | null][] = [
  // transaction kind, amount, metadata, owner role → kind, reference
  ['deposit', '100.00', { reference: 'wire-1' }, 'BUYER', 'deposit', 'deposit:wire-1'],
  ['purchase.standard', '-18.00', { purchaseId: 'p1' }, 'BUYER', 'purchase', 'purchase:p1'],
  ['purchase.standard', '15.00', { purchaseId: 'p1' }, 'SELLER', 'sale_proceeds', 'purchase:p1'],
  ['reservation.delivery', '-9.50', { reservationId: 'r1' }, 'BUYER', 'reservation_delivery', 'reservation:r1'],
  ['reservation.delivery', '7.00', { reservationId: 'r1' }, 'SELLER', 'sale_proceeds', 'reservation:r1'],
  ['reservation.cancel', '-4.00', { reservationId: 'r1' }, 'BUYER', 'termination_fee', 'reservation:r1'],
  ['facility.accept', '-98.00', { facilityId: 'f1', financingFee: '2.00' }, 'LENDER', 'facility_funding', 'facility:f1'],
  ['facility.accept', '-2.00', { facilityId: 'f1', financingFee: '2.00' }, 'LENDER', 'financing_fee', 'facility:f1'],
  ['facility.accept', '-100.00', { facilityId: 'f0' }, 'LENDER', 'facility_funding', 'facility:f0'],
  ['facility.accept', '97.99', { facilityId: 'f1', financingFee: '2.00' }, 'SELLER', 'sale_proceeds', 'facility:f1'],
  ['facility.repayment', '-10.00', { facilityId: 'f1' }, 'BUYER', 'repayment', 'facility:f1'],
  ['facility.repayment', '10.00', { facilityId: 'f1' }, 'LENDER', 'repayment', 'facility:f1'],
  ['facility.recovery', '78.40', { facilityId: 'f1' }, 'LENDER', 'recovery', 'facility:f1'],
  ['facility.recovery', '3.10', { facilityId: 'f1' }, 'BUYER', 'surplus', 'facility:f1'],
  ['gateway.overflow', '0.42', { listingId: 'l1' }, 'SELLER', 'overflow_earnings', 'listing:l1'],
  ['payout.request', '-50.00', { payoutId: 'po1' }, 'SELLER', 'payout', 'payout:po1'],
  ['payout.return', '50.00', { payoutId: 'po1' }, 'SELLER', 'payout_returned', 'payout:po1'],
  ['something.new', '1.00', { facilityId: 'f9' }, 'BUYER', 'something_new', 'facility:f9'],
  ['deposit', '1.00', {}, 'BUYER', 'deposit', null],
];

it.each(cases)('%s %s %j (%s) → %s %s', (transactionKind, amount, metadata, ownerRole, kind, reference) => {
  expect(describeWalletEntry({ transactionKind, amount: new Decimal(amount), metadata, ownerRole })).toEqual({ kind, reference });
});
