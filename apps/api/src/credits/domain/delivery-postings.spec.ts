import { Decimal } from '@ccx/core';
import { deliveryPostings, sellerPayout, type DeliveredPart } from './delivery-postings.js';

const D = (v: string) => new Decimal(v);
const part = (source: string, credits: string, cost: string, wallet: string): DeliveredPart => ({
  sourceAccountId: source,
  credits: D(credits),
  costPerCredit: D(cost),
  sellerWalletId: wallet,
});
const summary = (charge: string, parts: DeliveredPart[]) =>
  deliveryPostings({ payerAccountId: 'payer', charge: D(charge), revenueAccountId: 'revenue', blockAccountId: 'block', parts }).map(
    (p) => `${p.direction} ${p.accountId} ${new Decimal(p.amount).toFixed()}`,
  );

describe('sellerPayout: credits × wholesale cost, cents HALF_UP', () => {
  it.each([
    ['100', '1.5', '150'],
    ['0.333333', '1', '0.33'],
    ['1', '0.005', '0.01'],
    ['1', '0.004999', '0'],
  ])('%s credits at %s: %s', (credits, cost, expected) => {
    expect(sellerPayout(D(credits), D(cost)).toFixed()).toBe(expected);
  });
});

describe('deliveryPostings (SPEC §4, §6)', () => {
  it.each<[string, string, DeliveredPart[], string[]]>([
    [
      'one listing: the buyer pays, the seller gets wholesale, the platform the margin',
      '180.00',
      [part('listing-a', '100', '1.5', 'seller-1')],
      ['DEBIT payer 180', 'CREDIT seller-1 150', 'CREDIT revenue 30', 'DEBIT listing-a 100', 'CREDIT block 100'],
    ],
    [
      'one seller with two listings is paid once, each listing debited',
      '300.00',
      [part('listing-a', '100', '1', 'seller-1'), part('listing-b', '50', '2', 'seller-1')],
      ['DEBIT payer 300', 'CREDIT seller-1 200', 'CREDIT revenue 100', 'DEBIT listing-a 100', 'DEBIT listing-b 50', 'CREDIT block 150'],
    ],
    [
      "a reservation's months come from one account: its credits are summed",
      '40.00',
      [part('reservation', '10', '1', 'seller-1'), part('reservation', '10', '1.5', 'seller-2')],
      ['DEBIT payer 40', 'CREDIT seller-1 10', 'CREDIT seller-2 15', 'CREDIT revenue 15', 'DEBIT reservation 20', 'CREDIT block 20'],
    ],
    [
      'a charge below wholesale: the platform covers the difference',
      '140.00',
      [part('listing-a', '100', '1.5', 'seller-1')],
      ['DEBIT payer 140', 'CREDIT seller-1 150', 'DEBIT revenue 10', 'DEBIT listing-a 100', 'CREDIT block 100'],
    ],
    [
      'no margin: no revenue posting',
      '150.00',
      [part('listing-a', '100', '1.5', 'seller-1')],
      ['DEBIT payer 150', 'CREDIT seller-1 150', 'DEBIT listing-a 100', 'CREDIT block 100'],
    ],
    [
      'a payout that rounds to nothing is not posted',
      '0.01',
      [part('listing-a', '0.000001', '1', 'seller-1')],
      ['DEBIT payer 0.01', 'CREDIT revenue 0.01', 'DEBIT listing-a 0.000001', 'CREDIT block 0.000001'],
    ],
  ])('%s', (_name, charge, parts, expected) => {
    expect(summary(charge, parts)).toEqual(expected);
  });
});
