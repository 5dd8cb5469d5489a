import { Decimal } from '@ccx/core';
import { CLOCK_START } from '../../../../test/support/app.js';
import { mediumAppPerBlock, type MediumApp } from '../../../../test/support/medium.js';
import { financingParties, openFacility, TERMS } from '../../../../test/support/medium-facilities.js';
import { expectedSchedule } from '../../../../test/support/oracles.js';
import { parseRepayFacility } from './domain/facility-commands.js';
import { RepaymentsService } from './repayments.service.js';

/**
 * A repayment (SPEC §7) through RepaymentsService on the real database: the borrower's wallet pays
 * the lender's, interest first, and the principal part settles the facility's receivable/debt
 * pair; a refused repayment moves nothing.
 */
const app = mediumAppPerBlock();
const schedule = expectedSchedule(TERMS.principal, TERMS.apr, TERMS.termMonths, CLOCK_START);
const first = schedule[0];

/** Every balance a repayment may move, as exact strings. */
async function balances(m: MediumApp, p: { borrowerWallet: string; lenderWallet: string }, f: { receivableAccountId: string | null; debtAccountId: string | null }) {
  const posted = async (id: string) => (await m.balance(id)).posted.toFixed();
  return {
    borrower: await posted(p.borrowerWallet),
    lender: await posted(p.lenderWallet),
    receivable: await posted(f.receivableAccountId!),
    debt: await posted(f.debtAccountId!),
  };
}

describe('RepaymentsService.repay', () => {
  // One facility for the file: the tests run in order on the business clock, which only moves forward.
  let world: { p: Awaited<ReturnType<typeof financingParties>>; f: Awaited<ReturnType<typeof openFacility>> };
  beforeAll(async () => {
    const m = app();
    const p = await financingParties(m);
    world = { p, f: await openFacility(m, p) };
  });

  it('on the due date, pays the first installment: interest to the lender, principal off the debt', async () => {
    const m = app();
    const { p, f } = world;
    await m.advanceTo(first.dueDate);

    const { repayment, facility } = await m.get(RepaymentsService).repay(parseRepayFacility(p.borrower, { facilityId: f.id, amount: first.payment, idempotencyKey: 'pay-1' }));

    expect(repayment.interestPaid.toFixed(2)).toBe(first.interest);
    expect(repayment.principalPaid.toFixed(2)).toBe(first.principal);
    expect(facility.status).toBe('ACTIVE');
    const left = new Decimal(TERMS.principal).minus(first.principal);
    expect(await balances(m, p, f)).toEqual({
      borrower: new Decimal('1000.00').minus(first.payment).toFixed(),
      lender: new Decimal('9000.00').plus(first.payment).toFixed(),
      receivable: left.toFixed(),
      debt: left.negated().toFixed(),
    });
  });

  it('refuses more than the payoff amount (BAD_USER_INPUT), and moves nothing', async () => {
    const m = app();
    const { p, f } = world;
    const before = await balances(m, p, f);

    await expect(
      m.get(RepaymentsService).repay(parseRepayFacility(p.borrower, { facilityId: f.id, amount: TERMS.principal, idempotencyKey: 'pay-too-much' })),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

    expect(await balances(m, p, f)).toEqual(before);
  });

  it('refuses a repayment the wallet cannot pay (INSUFFICIENT_FUNDS), and moves nothing', async () => {
    const m = app();
    const { p, f } = world;
    const before = await balances(m, p, f);
    const more = new Decimal(before.borrower).plus('0.01').toFixed(2);

    await expect(
      m.get(RepaymentsService).repay(parseRepayFacility(p.borrower, { facilityId: f.id, amount: more, idempotencyKey: 'pay-unfunded' })),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });

    expect(await balances(m, p, f)).toEqual(before);
  });
});
