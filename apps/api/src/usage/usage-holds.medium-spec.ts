import { Decimal } from '@ccx/core';
import { deposit, listing, mediumAppPerBlock, organization } from '../../../../test/support/medium.js';
import { expectedGpuCost, GPU_CATALOG, h100For } from '../../../../test/support/oracles.js';
import { parsePurchaseCommand } from '../purchases/index.js';
import { PurchasesService } from '../purchases/index.js';
import { parseAuthorizeUsage, parseCaptureUsage } from './domain/usage-hold.js';
import { UsageHoldsService } from './usage-holds.service.js';

/**
 * Capturing a usage hold (SPEC §8) through UsageHoldsService on the real database: the held
 * credits of the buyer's block are posted to platform consumption up to the actual cost and the
 * rest is released; a capture the buyer cannot cover, or of a hold that is no longer open, moves
 * nothing.
 */
const app = mediumAppPerBlock();

/** A buyer holding one STANDARD block of 100 credits. */
async function buyerWithBlock() {
  const m = app();
  const seller = await organization(m, 'SELLER');
  await listing(m, seller, '100000', '1.50');
  const buyer = await organization(m, 'BUYER');
  await deposit(m, buyer, '1000.00');
  const { block } = await m.get(PurchasesService).purchase(parsePurchaseCommand(buyer, { credits: '100', idempotencyKey: 'block' }));
  return { m, buyer, blockAccount: block.ledgerAccountId };
}

describe('UsageHoldsService.capture', () => {
  it('posts the actual cost from the held block to consumption and releases the rest of the hold', async () => {
    const { m, buyer, blockAccount } = await buyerWithBlock();
    const holds = m.get(UsageHoldsService);
    const consumedBefore = await m.platform('consumed');
    const hold = await holds.authorize(parseAuthorizeUsage({ organizationId: buyer, eventId: 'call-1', credits: '10' }));
    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal(100), held: new Decimal(10), available: new Decimal(90) });

    const used = h100For('7.5');
    const captured = await holds.capture(parseCaptureUsage({ holdId: hold.id, ...used }));

    const cost = expectedGpuCost(used.gpuSeconds, GPU_CATALOG.H100);
    expect(cost).toEqual(new Decimal('7.5'));
    expect(captured).toEqual({ eventId: 'call-1', credits: cost.toFixed(6), duplicate: false });
    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal('92.5'), held: new Decimal(0), available: new Decimal('92.5') });
    expect((await m.platform('consumed')).minus(consumedBefore)).toEqual(cost);

    // A retried capture answers the same event and charges nothing more.
    expect(await holds.capture(parseCaptureUsage({ holdId: hold.id, ...used }))).toEqual({ ...captured, duplicate: true });
    expect((await m.balance(blockAccount)).posted).toEqual(new Decimal('92.5'));
  });

  it('refuses a cost beyond the hold and the available credits (INSUFFICIENT_CREDITS), and moves nothing', async () => {
    const { m, buyer, blockAccount } = await buyerWithBlock();
    const holds = m.get(UsageHoldsService);
    const hold = await holds.authorize(parseAuthorizeUsage({ organizationId: buyer, eventId: 'call-big', credits: '5' }));
    const consumedBefore = await m.platform('consumed');

    await expect(holds.capture(parseCaptureUsage({ holdId: hold.id, ...h100For('100.000001') }))).rejects.toMatchObject({ code: 'INSUFFICIENT_CREDITS' });

    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal(100), held: new Decimal(5), available: new Decimal(95) });
    expect(await m.platform('consumed')).toEqual(consumedBefore);
  });

  it('refuses to capture a voided hold (INVALID_STATE), and moves nothing', async () => {
    const { m, buyer, blockAccount } = await buyerWithBlock();
    const holds = m.get(UsageHoldsService);
    const hold = await holds.authorize(parseAuthorizeUsage({ organizationId: buyer, eventId: 'call-void', credits: '5' }));
    await holds.void(hold.id);

    await expect(holds.capture(parseCaptureUsage({ holdId: hold.id, ...h100For('1') }))).rejects.toMatchObject({ code: 'INVALID_STATE' });

    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal(100), held: new Decimal(0), available: new Decimal(100) });
  });
});
