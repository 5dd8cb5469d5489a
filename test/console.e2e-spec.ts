import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import {
  describeInBrowser,
  eventually,
  expectContains,
  expectCount,
  expectText,
  expectVisible,
  journey,
  launchBrowser,
  listenForBrowser,
  signIn,
  tableCaptioned,
  type Browser,
} from './support/browser.js';
import { acceptOk, clockTo, facilityAs } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { purchase } from './support/drivers/market.js';
import { register, registerPending } from './support/drivers/organizations.js';
import { upsertModel } from './support/drivers/usage.js';
import { deposit, walletOf } from './support/drivers/wallets.js';

/**
 * The console in a real Chromium against the real server (issue 10 item 5): one journey per
 * role, each clicked as a user would, on this file's fresh database.
 */
describe('the console over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is served at / and at any page path, never in place of the API', async () => {
    for (const path of ['/', '/startup', '/some/page']) {
      const res = await t.http().get(path).set('accept', 'text/html');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<div id="root">');
    }
    expect((await t.http().get('/health')).body).toEqual(expect.objectContaining({ status: 'ok' }));
    const v1 = await t.http().get('/v1/nothing-here').set('accept', 'text/html');
    expect(v1.text).not.toContain('<div id="root">');
    const metrics = await t.http().get('/metrics');
    expect(metrics.text).not.toContain('<div id="root">');
    expect((await t.gql(`{ clock }`)).data).toEqual({ clock: '2026-01-05T12:00:00.000Z' });
  });

  it('answers a browser at GET /graphql with the bundled GraphiQL; API clients still reach Apollo', async () => {
    const page = await t.http().get('/graphql').set('accept', 'text/html,application/xhtml+xml');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div id="graphiql">');
    expect(page.text).not.toMatch(/unpkg|jsdelivr|cdn\./);
    const get = await t.http().get('/graphql').query({ query: '{ clock }' }).set('accept', 'application/json').set('apollo-require-preflight', 'true');
    expect(get.body.data).toEqual({ clock: '2026-01-05T12:00:00.000Z' });
  });
});

describeInBrowser('the console in a browser', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestApp();
    base = await listenForBrowser(t);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('a startup signs in, buys credits and sees its balance and charts change', async () => {
    const seller = await register(t, 'SELLER', 'Helios GPUs');
    await createListing(t, seller, { gpuHours: '50000', wholesalePricePerGpuHour: '1.50' });
    const buyer = await register(t, 'BUYER', 'Acme AI');
    await deposit(t, buyer, '10000.00');
    await upsertModel(t, 'llama-3-70b', '0.5', '1.5');

    await journey(browser, 'startup', async (page) => {
      await signIn(page, base, buyer.key);
      await expectText(page.getByTestId('org-name'), 'Acme AI');
      await expectText(page.getByTestId('role'), 'Startup');
      await expectText(page.getByTestId('credits-available'), '0.000000');
      // The key is in sessionStorage, never in the URL.
      expect(page.url()).not.toContain(buyer.key);
      expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('ccx.apiKey'))).toBe(buyer.key);

      await page.getByRole('link', { name: 'Buy & reserve' }).click();
      await page.locator('input[name=credits]').fill('1000');
      await page.getByRole('button', { name: 'Get a quote' }).first().click();
      await page.getByRole('button', { name: /^Buy 1000(\.0+)? credits for/ }).click();
      await expectContains(page.getByRole('status'), 'Bought 1000.000000 credits');

      await page.getByRole('link', { name: 'Balance' }).click();
      await expectText(page.getByTestId('credits-available'), '1000.000000');
      // The expiry chart and the figures beneath it: the 1000 standard credits bought.
      const figures = tableCaptioned(page, 'Remaining credits by expiry day (UTC): figures');
      await expectCount(figures.locator('tbody tr'), 1);
      await expectContains(figures.locator('tbody tr'), '1000.000000');
      await expectCount(page.locator('.chart-canvas canvas'), 1);
      await expectVisible(page.getByText('as of 2026-01-05 12:00 UTC'));

      // Usage arrives (the gateway records it); the usage chart shows it by day and model.
      const used = await t.gql(
        `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { credits } }`,
        { input: { organizationId: buyer.id, eventId: 'console-e2e-1', model: 'llama-3-70b', inputTokens: 1_000_000, outputTokens: 1_000_000 } },
        OPERATOR_KEY,
      );
      expect(used.errors).toBeUndefined();
      await page.getByRole('link', { name: 'Usage' }).click();
      const byModel = tableCaptioned(page, 'By model over the range');
      await expectContains(byModel.locator('tbody tr'), 'llama-3-70b');
      await expectContains(byModel.locator('tbody tr'), '2.000000');
      const daily = tableCaptioned(page, /^Credits used per day/);
      await expectCount(daily.locator('tbody tr'), 7);
      await expectContains(daily.locator('tbody tr').last(), '2026-01-05');
      await expectContains(daily.locator('tbody tr').last(), '2.000000');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
      expect(download.suggestedFilename()).toBe('ccx-usage-2025-12-30-to-2026-01-05.csv');

      await page.getByRole('link', { name: 'Balance' }).click();
      await expectText(page.getByTestId('credits-available'), '998.000000');
      if (!process.env.CCX_CONSOLE_SCREENSHOTS) {
        // Signing out forgets the key.
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('API key').waitFor();
        expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('ccx.apiKey'))).toBeNull();
      }
    });
  });

  it('GET /graphql in a browser is the bundled GraphiQL, which runs a query with no CDN', async () => {
    await journey(browser, 'graphiql', async (page) => {
      const outside: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) outside.push(r.url());
      });
      await page.goto(`${base}/graphql`);
      await expectVisible(page.locator('.graphiql-container'));
      // A click before the editor is ready does nothing (a loaded machine): click until it runs.
      await eventually(
        async () => {
          if (!((await page.locator('.graphiql-response').textContent()) ?? '').includes('standardPricePerCredit')) await page.locator('.graphiql-execute-button').click();
          return (await page.locator('.graphiql-response').textContent()) ?? '';
        },
        (text) => text.includes('standardPricePerCredit'),
        'the query result in GraphiQL',
      );
      expect(outside).toEqual([]);
    });
  });

  it('the operator approves a provider and records a deposit', async () => {
    const pending = await registerPending(t, 'SELLER', 'Orbital Compute');
    const buyer = await register(t, 'BUYER', 'Beta Labs');
    const payee = await register(t, 'SELLER', 'Kite GPUs');
    await deposit(t, payee, '300.00');
    const asked = await t.gql(`mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { id } }`, { input: { amount: '120.00', idempotencyKey: 'kite-1' } }, payee.key);
    expect(asked.errors).toBeUndefined();

    await journey(browser, 'operator', async (page) => {
      await signIn(page, base, OPERATOR_KEY);
      await expectText(page.getByTestId('role'), 'Operator');
      await page.getByRole('link', { name: 'Approvals' }).click();
      await expectContains(page.getByRole('row', { name: /Orbital Compute/ }), 'PENDING');
      await page.getByRole('button', { name: 'Approve Orbital Compute' }).click();
      await expectVisible(page.getByText('Nobody is waiting for approval.'));

      await page.getByRole('link', { name: 'Deposits' }).click();
      await page.locator('select[name=organization] option', { hasText: 'Beta Labs' }).waitFor({ state: 'attached' });
      await page.locator('select[name=organization]').selectOption({ label: 'Beta Labs (buyer, active)' });
      await page.locator('input[name=amount]').fill('2500.00');
      await page.locator('input[name=reference]').fill('wire-4711');
      await page.getByRole('button', { name: 'Record deposit' }).click();
      await expectContains(page.getByRole('status'), '2500.00 USD available');

      await page.getByRole('link', { name: 'Payouts' }).click();
      await expectContains(page.getByRole('row', { name: /Kite GPUs/ }), '120.00');
      await page.getByLabel('Bank reference for Kite GPUs').fill('SEPA-2026-0042');
      await page.getByRole('button', { name: 'Mark paid' }).click();
      await page.getByRole('button', { name: 'Confirm mark paid' }).click();
      await expectVisible(page.getByText('No payouts waiting.'));

      await page.getByRole('link', { name: 'Ledger integrity' }).click();
      await expectContains(page.getByTestId('integrity'), 'Balanced');
      await page.getByRole('link', { name: 'Organizations' }).click();
      await expectContains(page.getByRole('row', { name: /Orbital Compute/ }), 'ACTIVE');
    });
    expect(await walletOf(t, buyer)).toBe('2500.00');
    const paid = await t.gql(`{ payouts { status reference } }`, {}, payee.key);
    expect(paid.data.payouts).toEqual([{ status: 'PAID', reference: 'SEPA-2026-0042' }]);
    const me = await t.gql(`{ me { status } }`, {}, pending.key);
    expect(me.data.me.status).toBe('ACTIVE');
  });

  it('a provider lists capacity, sees it allocated, and withdraws the rest', async () => {
    const seller = await register(t, 'SELLER', 'Nimbus Cloud');
    const buyer = await register(t, 'BUYER', 'Gamma Robotics');
    await deposit(t, buyer, '50000.00');

    await journey(browser, 'provider', async (page) => {
      await signIn(page, base, seller.key);
      await expectText(page.getByTestId('role'), 'Provider');
      await page.locator('select[name=gpuType]').selectOption('H200');
      await page.locator('input[name=region]').fill('eu-west');
      await page.locator('input[name=gpuHours]').fill('1000');
      await page.locator('input[name=price]').fill('1.40');
      await page.locator('input[name=until]').fill('2026-12-31');
      await page.getByRole('button', { name: 'Create listing' }).click();
      // H200 is 1.4 credits per GPU-hour: 1000 GPU-hours are 1400 credits at 1.00 USD each.
      await expectContains(page.getByRole('status'), 'Listed 1400.000000 credits at 1.000000 USD per credit');
      const figures = tableCaptioned(page, 'Credits per listing: figures');
      await expectCount(figures.locator('tbody tr'), 1);
      await expectContains(figures.locator('tbody tr'), '1400.000000');

      // The cheapest listing fills first: a buyer's 100 credits come from this one.
      const bought = await purchase(t, buyer, '100');
      expect(bought.errors).toBeUndefined();
      await page.reload();
      await expectContains(figures.locator('tbody tr'), '100.000000');
      await expectContains(figures.locator('tbody tr'), '1300.000000');

      await page.getByRole('button', { name: 'Withdraw' }).click();
      await page.getByRole('button', { name: 'Confirm withdraw' }).click();
      const mine = page.getByRole('region', { name: 'Your listings' });
      await expectContains(mine.getByRole('row', { name: /H200 eu-west/ }), 'WITHDRAWN');
      await page.getByRole('link', { name: 'Sale proceeds' }).click();
      const proceeds = page.getByRole('region', { name: /^Sale proceeds/ });
      await expectContains(proceeds.locator('tbody tr').first(), 'sale proceeds');
      await expectContains(proceeds.locator('tfoot tr'), '100.00');

      // The proceeds leave as a payout.
      await page.getByRole('link', { name: 'Payouts' }).click();
      await page.locator('input[name=payoutAmount]').fill('60.00');
      await page.getByRole('button', { name: 'Request payout' }).click();
      await expectContains(page.getByRole('status'), 'Payout of 60.00 USD requested');
      await expectContains(page.getByRole('region', { name: 'Payouts' }).locator('tbody tr'), 'PENDING');
      expect(await walletOf(t, seller)).toBe('40.00');
      await page.getByRole('link', { name: 'Listings' }).click();
      await expectVisible(mine.getByRole('row', { name: /H200 eu-west/ }));
    });
  });

  it('a lender answers a financing request, then freezes and recovers after missed payments', async () => {
    const seller = await register(t, 'SELLER', 'Atlas Compute');
    await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.20' });
    const borrower = await register(t, 'BUYER', 'Delta Vision');
    const lender = await register(t, 'LENDER', 'Northwind Capital');
    await deposit(t, lender, '200000.00');
    const asked = await t.gql(
      `mutation($input: FinancingRequestInput!) { requestFinancing(input: $input) { id } }`,
      { input: { amount: '100000.00', termMonths: 12, purpose: 'GPU credits for model training' } },
      borrower.key,
    );
    expect(asked.errors).toBeUndefined();

    await journey(browser, 'lender', async (page) => {
      await signIn(page, base, lender.key);
      await expectText(page.getByTestId('role'), 'Lender');
      await expectContains(page.getByRole('row', { name: /Delta Vision/ }), '100000.00');
      await page.getByRole('button', { name: 'Offer a facility to Delta Vision' }).click();
      // The check loan of SPEC §7 with CCX's 2% fee, previewed before it is sent.
      await expectText(page.getByTestId('preview-apr'), '0.2191');
      const preview = tableCaptioned(page, 'Schedule preview');
      await expectCount(preview.locator('tbody tr'), 12);
      await expectContains(preview.locator('tfoot tr'), '110015.99');
      await page.getByRole('button', { name: 'Send offer' }).click();
      await expectContains(page.getByRole('status'), 'Offer sent to Delta Vision');

      const offered = await t.gql(`{ facilities { id status disclosedApr } }`, {}, borrower.key);
      const facilityId = offered.data.facilities[0].id;
      expect(offered.data.facilities[0].disclosedApr).toBe('0.2191');
      await acceptOk(t, borrower, facilityId);

      // Missed payments: 10 days after the first due date the facility is DELINQUENT.
      await clockTo(t, '2026-02-15T12:00:00.000Z');
      await page.getByRole('link', { name: 'Facilities' }).click();
      const facility = page.getByTestId('lender-facility');
      await expectText(facility.getByTestId('dpd'), '10');
      await expectCount(facility.locator('tr.overdue'), 1);
      expect(await page.getByRole('button', { name: 'Recover' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Unfreeze' }).isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Freeze', exact: true }).click();
      await page.getByLabel('Reason').fill('Two weeks late, no answer');
      await page.getByRole('button', { name: 'Confirm freeze' }).click();
      await expectContains(page.getByRole('status'), 'Credits frozen.');
      await expectContains(tableCaptioned(page, 'Freeze audit trail').locator('tbody tr'), 'Two weeks late, no answer');

      // Past 30 days the facility is DEFAULTED: now it can be recovered.
      await clockTo(t, '2026-03-10T12:00:00.000Z');
      await page.reload();
      await expectText(facility.getByTestId('dpd'), '33');
      await page.getByRole('button', { name: 'Recover' }).click();
      await page.getByRole('button', { name: 'Confirm recover' }).click();
      await expectContains(page.getByRole('status'), 'Recovered');
      const after = await facilityAs(t, lender.key, facilityId);
      expect(['CHARGED_OFF', 'REPAID']).toContain(after.status);
      await expectContains(page.getByRole('row', { name: /Delta Vision/ }), after.status.replace('_', ' '));
    });
  });
});
