import { Decimal } from '@ccx/core';
import { deposit, listing, mediumAppPerBlock, organization } from '../../../../test/support/medium.js';
import { expectedStandardUnit, round2 } from '../../../../test/support/oracles.js';
import { OrganizationsService } from '../organizations/index.js';
import { parsePurchaseCommand } from './domain/purchase-command.js';
import { PurchasesService } from './purchases.service.js';

/**
 * A standard purchase (SPEC §5, §6) through PurchasesService on the real database: one ledger
 * transaction moves the buyer's money to the seller (wholesale) and the platform (margin), and the
 * listing's credits into the buyer's new block; a refused purchase moves nothing.
 */
const app = mediumAppPerBlock();

async function world(money: string) {
  const m = app();
  const seller = await organization(m, 'SELLER');
  const offered = await listing(m, seller, '1000', '1.50');
  const buyer = await organization(m, 'BUYER');
  await deposit(m, buyer, money);
  const organizations = m.get(OrganizationsService);
  return {
    m,
    buyer,
    seller,
    listingAccount: offered.ledgerAccountId,
    sellerWallet: (await organizations.get(seller)).walletAccountId,
  };
}

describe('PurchasesService.purchase', () => {
  it('charges the buyer the standard price, pays the seller wholesale, keeps the margin and delivers the credits', async () => {
    const { m, buyer, seller, listingAccount } = await world('1000.00');
    const revenueBefore = await m.platform('revenue');

    const { purchase, block } = await m.get(PurchasesService).purchase(parsePurchaseCommand(buyer, { credits: '100', idempotencyKey: 'buy-1' }));

    // A market used below half at noon: no demand surcharge, no night discount.
    const unit = expectedStandardUnit([['100', '1.50']]);
    const total = round2(unit.times(100));
    expect(unit.toFixed(6)).toBe('1.800000');
    expect(purchase.unitPrice.toFixed(6)).toBe(unit.toFixed(6));
    expect(purchase.totalPrice.toFixed(2)).toBe(total.toFixed(2));
    expect(await m.wallet(buyer)).toEqual(new Decimal('1000.00').minus(total));
    expect(await m.wallet(seller)).toEqual(new Decimal('150.00'));
    expect((await m.platform('revenue')).minus(revenueBefore)).toEqual(total.minus('150.00'));
    expect((await m.balance(block.ledgerAccountId)).posted).toEqual(new Decimal('100'));
    expect((await m.balance(listingAccount)).posted).toEqual(new Decimal('900'));
  });

  it('answers a retry with the same idempotency key with the same purchase, charging once', async () => {
    const { m, buyer } = await world('1000.00');
    const purchases = m.get(PurchasesService);
    const first = await purchases.purchase(parsePurchaseCommand(buyer, { credits: '10', idempotencyKey: 'buy-twice' }));
    const walletAfterFirst = await m.wallet(buyer);

    const again = await purchases.purchase(parsePurchaseCommand(buyer, { credits: '10', idempotencyKey: 'buy-twice' }));

    expect(again.purchase.id).toBe(first.purchase.id);
    expect(await m.wallet(buyer)).toEqual(walletAfterFirst);
    expect(walletAfterFirst).toEqual(new Decimal('1000.00').minus('18.00'));
  });

  it('refuses a buyer whose wallet cannot pay (INSUFFICIENT_FUNDS), and moves nothing', async () => {
    const { m, buyer, seller, listingAccount } = await world('50.00');
    const revenueBefore = await m.platform('revenue');

    await expect(m.get(PurchasesService).purchase(parsePurchaseCommand(buyer, { credits: '100', idempotencyKey: 'too-much' }))).rejects.toMatchObject({
      code: 'INSUFFICIENT_FUNDS',
    });

    expect(await m.wallet(buyer)).toEqual(new Decimal('50.00'));
    expect(await m.wallet(seller)).toEqual(new Decimal('0'));
    expect(await m.platform('revenue')).toEqual(revenueBefore);
    expect((await m.balance(listingAccount)).posted).toEqual(new Decimal('1000'));
  });

  it('refuses a price above maxUnitPrice (PRICE_LIMIT_EXCEEDED), and moves nothing', async () => {
    const { m, buyer, listingAccount } = await world('1000.00');

    await expect(
      m.get(PurchasesService).purchase(parsePurchaseCommand(buyer, { credits: '10', maxUnitPrice: '1.799999', idempotencyKey: 'too-dear' })),
    ).rejects.toMatchObject({ code: 'PRICE_LIMIT_EXCEEDED' });

    expect(await m.wallet(buyer)).toEqual(new Decimal('1000.00'));
    expect((await m.balance(listingAccount)).posted).toEqual(new Decimal('1000'));
  });
});
