import { Decimal } from '@ccx/core';
import { CLOCK_START } from '../../../../test/support/app.js';
import { mediumAppPerBlock } from '../../../../test/support/medium.js';
import { financingParties, openFacility, TERMS } from '../../../../test/support/medium-facilities.js';
import { expectedFee, expectedSchedule, FINANCING, plusDays, sumOf } from '../../../../test/support/oracles.js';
import { parseLenderFacility } from './domain/facility-commands.js';
import { FacilitiesService } from './facilities.service.js';
import { FacilityLifecycleService } from './facility-lifecycle.service.js';

/**
 * The freeze/recovery path (SPEC §7) on the real database: servicing defaults an unpaid facility
 * and freezes its block; recovery buys the frozen credits into platform inventory at
 * recoveryRate × their cost basis (paid by the treasury), pays the lender past-due interest then
 * principal, and charges off the rest, settling the receivable/debt pair. Recovering a facility
 * that has not defaulted is refused and moves nothing.
 */
const app = mediumAppPerBlock();
const schedule = expectedSchedule(TERMS.principal, TERMS.apr, TERMS.termMonths, CLOCK_START);

describe('FacilityLifecycleService.recover', () => {
  it('refuses to recover an ACTIVE facility (INVALID_STATE), and moves nothing', async () => {
    const m = app();
    const p = await financingParties(m);
    const f = await openFacility(m, p);
    const treasury = await m.platform('treasury');

    await expect(m.get(FacilityLifecycleService).recover(parseLenderFacility(p.lender, f.id))).rejects.toMatchObject({ code: 'INVALID_STATE' });

    expect(await m.platform('treasury')).toEqual(treasury);
    expect(await m.block(f.blockId!)).toMatchObject({ status: 'ACTIVE', credits: f.creditsGranted });
    expect((await m.balance(f.receivableAccountId!)).posted).toEqual(new Decimal(TERMS.principal));
  });

  it('after a default froze the credits, buys them back and charges off what the proceeds do not cover', async () => {
    const m = app();
    const p = await financingParties(m);
    const f = await openFacility(m, p);
    const credits = f.creditsGranted!;

    // Nothing paid: the first installment is past due for longer than the default threshold.
    const at = plusDays(schedule[0].dueDate, FINANCING.defaultAfterDaysPastDue + 1);
    await m.advanceTo(at);
    const [defaulted] = await m.get(FacilitiesService).visibleTo({ organizationId: p.lender, role: 'LENDER' });
    expect(defaulted.status).toBe('DEFAULTED');
    expect((await m.block(f.blockId!)).status).toBe('FROZEN');

    const before = { treasury: await m.platform('treasury'), inventory: await m.platform('inventory'), lender: await m.wallet(p.lender), borrower: await m.wallet(p.borrower) };
    const { recovery, facility } = await m.get(FacilityLifecycleService).recover(parseLenderFacility(p.lender, f.id));

    // No credit was used, so the proceeds are exactly recoveryRate × the purchase amount.
    const purchase = new Decimal(TERMS.principal).minus(expectedFee(TERMS.principal));
    const proceeds = purchase.times(FINANCING.recoveryRate).decimalPlaces(2, Decimal.ROUND_DOWN);
    const dueInterest = new Decimal(sumOf(schedule.filter((i) => i.dueDate <= at), 'interest'));
    const chargedOff = new Decimal(TERMS.principal).plus(dueInterest).minus(proceeds);
    expect(proceeds.toFixed(2)).toBe('784.00');
    expect(recovery.amountRecovered).toEqual(proceeds);
    expect(recovery.creditsRecovered).toEqual(credits);
    expect(recovery.surplus).toEqual(new Decimal(0));
    expect(facility).toMatchObject({ status: 'CHARGED_OFF' });
    expect(facility.chargedOffAmount).toEqual(chargedOff);

    expect((await m.platform('treasury')).minus(before.treasury)).toEqual(proceeds.negated());
    expect((await m.platform('inventory')).minus(before.inventory)).toEqual(credits);
    expect((await m.wallet(p.lender)).minus(before.lender)).toEqual(proceeds);
    expect(await m.wallet(p.borrower)).toEqual(before.borrower);
    expect((await m.block(f.blockId!)).credits).toEqual(new Decimal(0));
    expect((await m.balance(f.receivableAccountId!)).posted).toEqual(new Decimal(0));
    expect((await m.balance(f.debtAccountId!)).posted).toEqual(new Decimal(0));
  });
});
