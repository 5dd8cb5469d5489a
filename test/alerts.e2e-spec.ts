import { DataSource } from 'typeorm';
import { Decimal } from '@ccx/core';
import { AlertsService } from '../apps/api/src/alerts/alerts.service.js';
import { AutoRefillWorker } from '../apps/api/src/alerts/auto-refill.worker.js';
import { AlertKind } from '../apps/api/src/alerts/domain/alert-kind.js';
import { parsePurchaseCommand } from '../apps/api/src/purchases/domain/purchase-command.js';
import { PurchasesService } from '../apps/api/src/purchases/purchases.service.js';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { ALERTS, NO_SETTINGS, READ_SETTINGS, alertsOf, balanceChanged, emit, jobsOf, setSettings, updateSettings } from './support/alerts.js';
import { createListing } from './support/drivers/listings.js';
import { blocksOf, quote } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register, suspend } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';

/**
 * SPEC §8 low-balance alerts and auto-refill: balance settings through the API, the alerts list,
 * AlertsService.balanceChanged as the usage module calls it, and the AutoRefillWorker buying
 * through PurchasesService. Webhook delivery is in alerts-webhooks.e2e-spec.ts.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ CCX_WEBHOOK_INTERVAL_MS: '0' });
  const seller = await register(t, 'SELLER');
  // Deep supply, so utilization (and so the price) hardly moves in this file.
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.00' });
});
afterAll(async () => {
  await t.close();
});

const worker = () => t.app.get(AutoRefillWorker);
const settingsRow = (org: Org) => t.db.dataSource.query(`SELECT * FROM balance_settings WHERE organization_id = $1`, [org.id]);

describe('balanceSettings / updateBalanceSettings', () => {
  it('are all null until something is set', async () => {
    const buyer = await register(t, 'BUYER');
    const res = await t.gql(READ_SETTINGS, {}, buyer.key);
    expect(res.errors).toBeUndefined();
    expect(res.data.balanceSettings).toEqual(NO_SETTINGS);
  });

  it('round-trip every field at its scale; a field left out keeps its value, null clears it', async () => {
    const buyer = await register(t, 'BUYER');
    const all = { lowBalanceThreshold: '100', autoRefillThreshold: '20.5', autoRefillCredits: '250.000001', autoRefillMaxUnitPrice: '1.25', webhookUrl: 'https://hooks.example.com/ccx?x=1' };
    const set = await setSettings(t, buyer, all);
    const shown = {
      lowBalanceThreshold: '100.000000',
      autoRefillThreshold: '20.500000',
      autoRefillCredits: '250.000001',
      autoRefillMaxUnitPrice: '1.250000',
      webhookUrl: 'https://hooks.example.com/ccx?x=1',
    };
    expect(set).toEqual({ ...shown, webhookSecret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/) });
    expect((await t.gql(READ_SETTINGS, {}, buyer.key)).data.balanceSettings).toEqual({ ...shown, webhookSecret: null });

    // Omitted: kept. Explicit null: cleared (auto-refill both together).
    const partial = await setSettings(t, buyer, { lowBalanceThreshold: '0', autoRefillThreshold: null, autoRefillCredits: null });
    expect(partial).toEqual({ ...shown, lowBalanceThreshold: '0.000000', autoRefillThreshold: null, autoRefillCredits: null, webhookSecret: null });
    const cleared = await setSettings(t, buyer, { lowBalanceThreshold: null, autoRefillMaxUnitPrice: null, webhookUrl: null });
    expect(cleared).toEqual(NO_SETTINGS);
    expect(await setSettings(t, buyer, {})).toEqual(NO_SETTINGS);
    const [row] = await settingsRow(buyer);
    expect(row.webhook_secret).toBeNull();
  });

  it.each([
    ['a negative threshold', { lowBalanceThreshold: '-1' }],
    ['7 decimals of credits', { lowBalanceThreshold: '1.0000001' }],
    ['exponent notation', { lowBalanceThreshold: '1e3' }],
    ['a JSON number', { lowBalanceThreshold: 10 }],
    ['NaN', { lowBalanceThreshold: 'NaN' }],
    ['zero autoRefillCredits', { autoRefillThreshold: '5', autoRefillCredits: '0' }],
    ['7 decimals of autoRefillCredits', { autoRefillThreshold: '5', autoRefillCredits: '0.0000001' }],
    ['a zero maxUnitPrice', { autoRefillMaxUnitPrice: '0' }],
    ['7 decimals of maxUnitPrice', { autoRefillMaxUnitPrice: '1.0000001' }],
    ['a threshold without credits', { autoRefillThreshold: '5' }],
    ['credits without a threshold', { autoRefillCredits: '5' }],
    ['an ftp URL', { webhookUrl: 'ftp://hooks.example.com/x' }],
    ['not a URL', { webhookUrl: 'hooks.example.com/x' }],
    ['an empty URL', { webhookUrl: '' }],
    ['a URL with credentials', { webhookUrl: 'https://user:pw@hooks.example.com/x' }],
    ['a URL with spaces around it', { webhookUrl: ' https://hooks.example.com/x' }],
    ['a URL of 2049 characters', { webhookUrl: `https://hooks.example.com/${'a'.repeat(2049 - 26)}` }],
  ])('refuse %s with BAD_USER_INPUT and change nothing', async (_label, input) => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { lowBalanceThreshold: '7', webhookUrl: 'https://hooks.example.com/kept' });
    const before = await settingsRow(buyer);
    const res = await updateSettings(t, buyer, input);
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(await settingsRow(buyer)).toEqual(before);
  });

  it('refuse clearing only one half of a set auto-refill', async () => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { autoRefillThreshold: '3', autoRefillCredits: '9' });
    const before = await settingsRow(buyer);
    for (const input of [{ autoRefillCredits: null }, { autoRefillThreshold: null }, { autoRefillThreshold: null, autoRefillCredits: '4' }]) {
      expect((await updateSettings(t, buyer, input)).code).toBe('BAD_USER_INPUT');
    }
    expect(await settingsRow(buyer)).toEqual(before);
    expect(await setSettings(t, buyer, { autoRefillThreshold: '4', autoRefillCredits: '8' })).toMatchObject({ autoRefillThreshold: '4.000000', autoRefillCredits: '8.000000' });
  });

  it('accept a URL of exactly 2048 characters and plain http', async () => {
    const buyer = await register(t, 'BUYER');
    const long = `https://hooks.example.com/${'a'.repeat(2048 - 26)}`;
    expect(long).toHaveLength(2048);
    expect((await setSettings(t, buyer, { webhookUrl: long })).webhookUrl).toBe(long);
    expect((await setSettings(t, buyer, { webhookUrl: 'http://127.0.0.1:9/x' })).webhookUrl).toBe('http://127.0.0.1:9/x');
  });

  it('show the signing secret once: when the URL is set or changed, never on a read or another update', async () => {
    const buyer = await register(t, 'BUYER');
    const first = (await setSettings(t, buyer, { webhookUrl: 'https://a.example.com/hook' })).webhookSecret;
    expect(first).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(first!.slice('whsec_'.length), 'base64url')).toHaveLength(32);
    expect((await t.gql(READ_SETTINGS, {}, buyer.key)).data.balanceSettings.webhookSecret).toBeNull();
    expect((await setSettings(t, buyer, { lowBalanceThreshold: '5' })).webhookSecret).toBeNull();
    expect((await setSettings(t, buyer, { webhookUrl: 'https://a.example.com/hook' })).webhookSecret).toBeNull();
    const [kept] = await settingsRow(buyer);
    expect(kept.webhook_secret).toBe(first);
    const second = (await setSettings(t, buyer, { webhookUrl: 'https://b.example.com/hook' })).webhookSecret;
    expect(second).toMatch(/^whsec_/);
    expect(second).not.toBe(first);
    const [rotated] = await settingsRow(buyer);
    expect(rotated.webhook_secret).toBe(second);
  });
});

describe('alerts', () => {
  it('list your own, newest first (business time, then insertion order), with first defaulting to 50 and at most 200', async () => {
    const buyer = await register(t, 'BUYER');
    const other = await register(t, 'BUYER');
    for (let i = 0; i < 59; i++) await emit(t, buyer, { message: `alert ${i}` });
    await emit(t, buyer, { kind: AlertKind.PAYMENT_OVERDUE, message: 'earlier', at: '2026-01-01T00:00:00Z' });
    const page = await alertsOf(t, buyer);
    expect(page).toHaveLength(50);
    expect(page.slice(0, 3).map((a) => a.message)).toEqual(['alert 58', 'alert 57', 'alert 56']);
    expect(page[0]).toEqual({ id: expect.any(String), kind: 'LOW_BALANCE', message: 'alert 58', createdAt: CLOCK_START });
    const everything = await alertsOf(t, buyer, 200);
    expect(everything).toHaveLength(60);
    expect(everything[59]).toMatchObject({ kind: 'PAYMENT_OVERDUE', message: 'earlier', createdAt: '2026-01-01T00:00:00.000Z' });
    expect(await alertsOf(t, buyer, 1)).toEqual([page[0]]);
    expect(await alertsOf(t, other)).toEqual([]);
    for (const first of [0, -1, 201]) expect((await t.gql(ALERTS, { first }, buyer.key)).code).toBe('BAD_USER_INPUT');
  });

  it('are written with their cause or not at all (emit runs in the caller transaction)', async () => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { webhookUrl: 'https://hooks.example.com/rollback' });
    const alerts = t.app.get(AlertsService);
    await expect(
      t.app.get(DataSource).transaction(async (m) => {
        await alerts.emitInTransaction(m, { organizationId: buyer.id, kind: AlertKind.CREDITS_FROZEN, message: 'frozen', at: new Date(CLOCK_START) });
        throw new Error('the cause failed');
      }),
    ).rejects.toThrow('the cause failed');
    expect(await alertsOf(t, buyer)).toEqual([]);
    const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE organization_id = $1`, [buyer.id]);
    expect(n).toBe(0);
  });

  it('can be read by a lender; the contract AlertKind values all round-trip', async () => {
    const lender = await register(t, 'LENDER');
    for (const kind of Object.values(AlertKind)) await emit(t, lender, { kind, message: `about ${kind}` });
    const kinds = (await alertsOf(t, lender)).map((a) => a.kind).sort();
    expect(kinds).toEqual(['AUTO_REFILL', 'CREDITS_FROZEN', 'CREDITS_UNFROZEN', 'LOW_BALANCE', 'PAYMENT_OVERDUE']);
  });
});

describe('balanceChanged (SPEC §8: crossing below the threshold emits one alert)', () => {
  it('alerts once per downward crossing: not while above, not while already below, again after going back above', async () => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { lowBalanceThreshold: '100' });
    const count = async () => (await alertsOf(t, buyer)).length;
    await balanceChanged(t, buyer, '150', '120');
    await balanceChanged(t, buyer, '120', '100');
    expect(await count()).toBe(0);
    await balanceChanged(t, buyer, '100', '99.5');
    expect(await alertsOf(t, buyer)).toEqual([
      { id: expect.any(String), kind: 'LOW_BALANCE', message: 'Your available credits fell below 100.000000: 99.500000 left.', createdAt: CLOCK_START },
    ]);
    await balanceChanged(t, buyer, '99.5', '40');
    await balanceChanged(t, buyer, '40', '0');
    expect(await count()).toBe(1);
    // Topped up (a purchase; usage never reports a rise, and a rise never alerts), then down again.
    await balanceChanged(t, buyer, '0', '500');
    expect(await count()).toBe(1);
    await balanceChanged(t, buyer, '500', '12');
    expect(await count()).toBe(2);
    const [row] = await t.db.dataSource.query(`SELECT data FROM alerts WHERE organization_id = $1 ORDER BY seq DESC LIMIT 1`, [buyer.id]);
    expect(row.data).toEqual({ threshold: '100.000000', before: '500.000000', after: '12.000000' });
  });

  it('does nothing for a buyer without settings, or with the threshold cleared', async () => {
    const buyer = await register(t, 'BUYER');
    await balanceChanged(t, buyer, '10', '1');
    await setSettings(t, buyer, { lowBalanceThreshold: '5', autoRefillThreshold: '5', autoRefillCredits: '10' });
    await setSettings(t, buyer, { lowBalanceThreshold: null, autoRefillThreshold: null, autoRefillCredits: null });
    await balanceChanged(t, buyer, '10', '1');
    expect(await alertsOf(t, buyer)).toEqual([]);
    expect(await jobsOf(t, buyer)).toEqual([]);
  });

  it('queues one auto-refill job per crossing, never two pending at once, with the settings of the crossing', async () => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { autoRefillThreshold: '10', autoRefillCredits: '5', autoRefillMaxUnitPrice: '2' });
    await balanceChanged(t, buyer, '20', '15');
    expect(await jobsOf(t, buyer)).toEqual([]);
    await balanceChanged(t, buyer, '15', '9');
    await balanceChanged(t, buyer, '9', '2');
    const jobs = await jobsOf(t, buyer);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ status: 'PENDING', result: null });
    expect(new Decimal(jobs[0].credits).eq(5) && new Decimal(jobs[0].max_unit_price!).eq(2)).toBe(true);
    // Another crossing while the first refill still waits: it is not doubled.
    await balanceChanged(t, buyer, '30', '1');
    expect(await jobsOf(t, buyer)).toHaveLength(1);
    expect(await alertsOf(t, buyer)).toEqual([]);
  });

  it('writes nothing when the caller transaction rolls back', async () => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { lowBalanceThreshold: '10', autoRefillThreshold: '10', autoRefillCredits: '5' });
    const alerts = t.app.get(AlertsService);
    await expect(
      t.app.get(DataSource).transaction(async (m) => {
        await alerts.balanceChangedInTransaction(m, { organizationId: buyer.id, before: new Decimal(20), after: new Decimal(1), at: new Date(CLOCK_START) });
        throw new Error('usage batch failed');
      }),
    ).rejects.toThrow('usage batch failed');
    expect(await alertsOf(t, buyer)).toEqual([]);
    expect(await jobsOf(t, buyer)).toEqual([]);
  });
});

describe('auto-refill', () => {
  async function fundedBuyer(amount: string | null, settings: Record<string, unknown>): Promise<Org> {
    const buyer = await register(t, 'BUYER');
    if (amount) await deposit(t, buyer, amount);
    await setSettings(t, buyer, { autoRefillThreshold: '10', autoRefillCredits: '50', ...settings });
    await balanceChanged(t, buyer, '20', '5');
    return buyer;
  }

  it('buys autoRefillCredits from the wallet: job DONE, wallet debited, block created, AUTO_REFILL alert, once', async () => {
    const buyer = await fundedBuyer('100.00', { autoRefillMaxUnitPrice: '1.50' });
    const unitPrice = (await quote(t, { type: 'STANDARD', credits: '50' })).data.quote.unitPrice;
    expect(unitPrice).toBe('1.200000');
    expect(await worker().runDue()).toBeGreaterThanOrEqual(1);
    const [job] = await jobsOf(t, buyer);
    expect(job.status).toBe('DONE');
    expect(job.result).toMatchObject({ credits: '50.000000', unitPrice: '1.200000', totalPrice: '60.00', purchaseId: expect.any(String) });
    expect(await walletOf(t, buyer)).toBe('40.00');
    const blocks = await blocksOf(t, buyer);
    expect(blocks).toEqual([expect.objectContaining({ type: 'STANDARD', status: 'ACTIVE', granted: '50.000000', remaining: '50.000000', unitPrice: '1.200000' })]);
    expect(await alertsOf(t, buyer)).toEqual([
      { id: expect.any(String), kind: 'AUTO_REFILL', message: 'Auto-refill bought 50.000000 credits at 1.200000 USD per credit (60.00 USD in all).', createdAt: CLOCK_START },
    ]);
    // Nothing left to do: a second run buys nothing.
    await worker().runDue();
    expect(await walletOf(t, buyer)).toBe('40.00');
    expect(await blocksOf(t, buyer)).toHaveLength(1);
    expect(await alertsOf(t, buyer)).toHaveLength(1);
    expect((await integrity(t)).balanced).toBe(true);
  });

  it('two workers racing run a job once (the job row is locked, SKIP LOCKED, while it runs)', async () => {
    const buyers = [await fundedBuyer('100.00', {}), await fundedBuyer('100.00', {}), await fundedBuyer('100.00', {})];
    await Promise.all([worker().runDue(), worker().runDue(), worker().runDue()]);
    for (const buyer of buyers) {
      expect((await jobsOf(t, buyer)).map((j) => j.status)).toEqual(['DONE']);
      expect(await walletOf(t, buyer)).toBe('40.00');
      expect(await blocksOf(t, buyer)).toHaveLength(1);
      expect((await alertsOf(t, buyer)).map((a) => a.kind)).toEqual(['AUTO_REFILL']);
    }
  });

  it('is safe after a crash mid-job: the purchase is idempotent on the job id, so it is bought once', async () => {
    const buyer = await fundedBuyer('100.00', {});
    const [job] = await jobsOf(t, buyer);
    // The worker bought, then died before marking the job DONE.
    const first = await t.app.get(PurchasesService).purchase(parsePurchaseCommand(buyer.id, { credits: '50', maxUnitPrice: null, idempotencyKey: `auto-refill:${job.id}` }));
    expect(await walletOf(t, buyer)).toBe('40.00');
    await worker().runDue();
    const [done] = await jobsOf(t, buyer);
    expect(done).toMatchObject({ status: 'DONE', result: expect.objectContaining({ purchaseId: first.purchase.id }) });
    expect(await walletOf(t, buyer)).toBe('40.00');
    expect(await blocksOf(t, buyer)).toHaveLength(1);
    expect((await alertsOf(t, buyer)).map((a) => a.kind)).toEqual(['AUTO_REFILL']);
  });

  it.each([
    ['an empty wallet', null, {}, 'INSUFFICIENT_FUNDS'],
    ['a price above autoRefillMaxUnitPrice', '100.00', { autoRefillMaxUnitPrice: '1.10' }, 'PRICE_LIMIT_EXCEEDED'],
    ['more credits than the market has', '100.00', { autoRefillCredits: '5000000' }, 'INSUFFICIENT_CAPACITY'],
  ])('fails on %s: job FAILED with %s, an AUTO_REFILL alert, nothing bought, never retried', async (_label, amount, settings, code) => {
    const buyer = await fundedBuyer(amount, settings);
    const wallet = await walletOf(t, buyer);
    await worker().runDue();
    const [job] = await jobsOf(t, buyer);
    expect(job).toMatchObject({ status: 'FAILED', result: expect.objectContaining({ code }) });
    const alerts = await alertsOf(t, buyer);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].kind).toBe('AUTO_REFILL');
    expect(alerts[0].message).toContain(`failed (${code})`);
    expect(await walletOf(t, buyer)).toBe(wallet);
    expect(await blocksOf(t, buyer)).toEqual([]);
    await worker().runDue();
    await worker().runDue();
    expect(await alertsOf(t, buyer)).toHaveLength(1);
    expect(await jobsOf(t, buyer)).toHaveLength(1);
  });

  it('fails FORBIDDEN for a suspended buyer (it can read but not act), and skips quietly when turned off', async () => {
    const suspended = await fundedBuyer('100.00', {});
    await suspend(t, suspended);
    const disabled = await fundedBuyer('100.00', {});
    await setSettings(t, disabled, { autoRefillThreshold: null, autoRefillCredits: null });
    await worker().runDue();
    expect((await jobsOf(t, suspended))[0]).toMatchObject({ status: 'FAILED', result: expect.objectContaining({ code: 'FORBIDDEN' }) });
    expect((await alertsOf(t, suspended)).map((a) => a.kind)).toEqual(['AUTO_REFILL']);
    expect((await jobsOf(t, disabled))[0]).toMatchObject({ status: 'FAILED', result: expect.objectContaining({ code: 'DISABLED' }) });
    expect(await alertsOf(t, disabled)).toEqual([]);
    expect(await walletOf(t, suspended)).toBe('100.00');
    expect(await walletOf(t, disabled)).toBe('100.00');
  });
});

describe('access (SPEC §2)', () => {
  it('settings are for buyers; alerts for buyers and lenders', async () => {
    const seller = await register(t, 'SELLER');
    const lender = await register(t, 'LENDER');
    const buyer = await register(t, 'BUYER');
    const update = `mutation { updateBalanceSettings(input: { lowBalanceThreshold: "1" }) { lowBalanceThreshold } }`;
    for (const key of [seller.key, lender.key, OPERATOR_KEY]) {
      expect((await t.gql(READ_SETTINGS, {}, key)).code).toBe('FORBIDDEN');
      expect((await t.gql(update, {}, key)).code).toBe('FORBIDDEN');
    }
    expect((await t.gql(READ_SETTINGS)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(update)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(ALERTS)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(ALERTS, {}, seller.key)).code).toBe('FORBIDDEN');
    expect((await t.gql(ALERTS, {}, OPERATOR_KEY)).code).toBe('FORBIDDEN');
    expect((await t.gql(ALERTS, {}, lender.key)).errors).toBeUndefined();
    expect((await t.gql(update, {}, buyer.key)).data.updateBalanceSettings.lowBalanceThreshold).toBe('1.000000');
  });
});
