import { Decimal } from '@ccx/core';
import { CLOCK_START } from '../../../../test/support/app.js';
import { mediumAppPerBlock } from '../../../../test/support/medium.js';
import { financingParties, offer, TERMS, WHOLESALE_PER_CREDIT } from '../../../../test/support/medium-facilities.js';
import { expectedFee, expectedSchedule } from '../../../../test/support/oracles.js';
import { parseAcceptFacility } from './domain/facility-commands.js';
import { FacilitiesService } from './facilities.service.js';

/**
 * Accepting a facility (SPEC §7) through FacilitiesService on the real database: the lender's
 * principal pays the fee to the platform and buys capacity at wholesale for the borrower's FINANCED
 * block, and the debt is recorded as a receivable/debt pair; a refused acceptance moves nothing.
 */
const app = mediumAppPerBlock();

describe('FacilitiesService.accept', () => {
  it('funds the block from the lender, pays the seller wholesale, keeps the fee and records the debt', async () => {
    const m = app();
    const p = await financingParties(m);
    const revenueBefore = await m.platform('revenue');
    const offered = await offer(m, p);

    const f = await m.get(FacilitiesService).accept(parseAcceptFacility(p.borrower, offered.id));

    const fee = expectedFee(TERMS.principal);
    const purchase = new Decimal(TERMS.principal).minus(fee);
    const credits = purchase.div(WHOLESALE_PER_CREDIT);
    expect(fee).toBe('20.00');
    expect(credits).toEqual(new Decimal('612.5'));
    expect(f.status).toBe('ACTIVE');
    expect(f.creditsGranted).toEqual(credits);
    expect((await m.balance(p.lenderWallet)).posted).toEqual(new Decimal('9000.00'));
    expect((await m.balance(p.sellerWallet)).posted).toEqual(purchase);
    expect((await m.platform('revenue')).minus(revenueBefore)).toEqual(new Decimal(fee));
    expect((await m.balance(p.borrowerWallet)).posted).toEqual(new Decimal('1000.00'));
    expect(await m.block(f.blockId!)).toMatchObject({ status: 'ACTIVE', credits });
    expect((await m.balance(f.receivableAccountId!)).posted).toEqual(new Decimal(TERMS.principal));
    expect((await m.balance(f.debtAccountId!)).posted).toEqual(new Decimal(TERMS.principal).negated());

    const schedule = await m.get(FacilitiesService).installmentsInTransaction(m.manager, [f.id]);
    expect(schedule.map((i) => ({ number: i.number, dueDate: i.dueDate.toISOString(), payment: i.payment.toFixed(2), principal: i.principal.toFixed(2), interest: i.interest.toFixed(2) }))).toEqual(
      expectedSchedule(TERMS.principal, TERMS.apr, TERMS.termMonths, CLOCK_START),
    );
  });

  it('refuses when the lender cannot fund the principal (INSUFFICIENT_FUNDS), and moves nothing', async () => {
    const m = app();
    const p = await financingParties(m, '999.99');
    const revenueBefore = await m.platform('revenue');
    const offered = await offer(m, p);

    await expect(m.get(FacilitiesService).accept(parseAcceptFacility(p.borrower, offered.id))).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });

    expect((await m.balance(p.lenderWallet)).posted).toEqual(new Decimal('999.99'));
    expect((await m.balance(p.sellerWallet)).posted).toEqual(new Decimal('0'));
    expect(await m.platform('revenue')).toEqual(revenueBefore);
    const [still] = await m.get(FacilitiesService).visibleTo({ organizationId: p.borrower, role: 'BUYER' });
    expect(still).toMatchObject({ id: offered.id, status: 'OFFERED', acceptedAt: null, blockId: null });
  });

  it("refuses another buyer's acceptance as if the offer did not exist (NOT_FOUND)", async () => {
    const m = app();
    const p = await financingParties(m);
    const other = await financingParties(m);
    const offered = await offer(m, p);

    await expect(m.get(FacilitiesService).accept(parseAcceptFacility(other.borrower, offered.id))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await m.balance(p.lenderWallet)).posted).toEqual(new Decimal('10000.00'));
  });
});
