import { startTestApp, type TestApp } from './support/app.js';
import { acceptOk, clockTo, freeze, offerOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { creditsOf, fundedBuyer, reserve } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { register } from './support/drivers/organizations.js';
import { deposit } from './support/drivers/wallets.js';
import { alertsOf, setSettings } from './support/alerts.js';

/**
 * SPEC §8: any change that lowers a buyer's available credits is a low-balance crossing — not
 * only usage: a freeze and an expiry too (issue 12 item 5: a freeze took a buyer from 7,988 to
 * 1,800 credits with no alert).
 */

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

describe('low-balance crossings other than usage', () => {
  it('a freeze that takes the buyer below its threshold raises LOW_BALANCE and queues the auto-refill', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const lender = await register(t, 'LENDER');
    await deposit(t, lender, '100000.00');
    const facility = await offerOk(t, lender, { borrowerId: buyer.id, principal: '1000.00', apr: '0.18', termMonths: 12 });
    await acceptOk(t, buyer, facility.id);
    await setSettings(t, buyer, { lowBalanceThreshold: '100', autoRefillThreshold: '50', autoRefillCredits: '5' });
    expect((await alertsOf(t, buyer)).filter((a) => a.kind === 'LOW_BALANCE')).toEqual([]);
    // Past the first due date and the grace period: DELINQUENT, which the lender may freeze.
    await clockTo(t, '2026-02-12T12:00:00.000Z');
    const frozen = await freeze(t, lender.key, facility.id, 'missed the first payment');
    expect(frozen.errors).toBeUndefined();
    expect((await creditsOf(t, buyer)).available).toBe('10.000000');
    const low = (await alertsOf(t, buyer)).filter((a) => a.kind === 'LOW_BALANCE');
    expect(low).toHaveLength(1);
    const [job] = await t.db.dataSource.query(`SELECT status, credits::text AS credits FROM auto_refill_jobs WHERE organization_id = $1`, [buyer.id]);
    expect(job).toMatchObject({ credits: '5' });
  });

  it('an expiry that takes the buyer below its threshold raises LOW_BALANCE', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    await reserve(t, buyer, '50', 1);
    expect((await creditsOf(t, buyer)).available).toBe('60.000000');
    await setSettings(t, buyer, { lowBalanceThreshold: '30' });
    const now = (await t.gql(`{ clock }`)).data.clock;
    // A monthly block expires 3 months after its delivery.
    await clockTo(t, new Date(new Date(now).getTime() + 100 * 86_400_000).toISOString());
    expect((await creditsOf(t, buyer)).available).toBe('10.000000');
    expect((await alertsOf(t, buyer)).filter((a) => a.kind === 'LOW_BALANCE')).toHaveLength(1);
  });
});
