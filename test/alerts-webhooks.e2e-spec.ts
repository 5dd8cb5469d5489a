import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { AlertsService } from '../apps/api/src/alerts/alerts.service.js';
import { AlertKind } from '../apps/api/src/alerts/domain/alert-kind.js';
import { MAX_DELIVERY_ATTEMPTS } from '../apps/api/src/alerts/domain/retry-schedule.js';
import { WebhookDispatcher } from '../apps/api/src/alerts/webhook-dispatcher.js';
import { startServer, type RunningServer } from '../apps/api/src/bootstrap.js';
import { loadConfig } from '../apps/api/src/config/app-config.js';
import { DataSource } from 'typeorm';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { alertsOf, deliveriesOf, emit, makeDue, setSettings } from './support/alerts.js';
import { createTestDatabase } from './support/database.js';
import { type Org, register } from './support/drivers/organizations.js';
import { startReceiver, verifySignature, type WebhookReceiver } from './support/webhooks.js';

/**
 * SPEC §8: alerts "sent to the buyer's webhook URL as an HMAC-SHA256-signed POST with retries",
 * through the webhook outbox and the WebhookDispatcher, to real HTTP receivers on 127.0.0.1.
 */
let t: TestApp;
const receivers: WebhookReceiver[] = [];
beforeAll(async () => {
  t = await startTestApp({ CCX_WEBHOOK_INTERVAL_MS: '0' });
});
// Each test owns its deliveries: whatever one leaves waiting must not become due in the next.
afterEach(async () => {
  await t.db.dataSource.query(
    `UPDATE webhook_deliveries SET failed_at = now(), next_attempt_at = NULL, last_error = 'test finished' WHERE delivered_at IS NULL AND failed_at IS NULL`,
  );
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await t.close();
});

const dispatcher = () => t.app.get(WebhookDispatcher);

async function receiver(...args: Parameters<typeof startReceiver>): Promise<WebhookReceiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

/** A buyer whose webhook points at `url`; returns it with the signing secret shown once. */
async function subscribed(url: string): Promise<{ buyer: Org; secret: string }> {
  const buyer = await register(t, 'BUYER');
  const { webhookSecret } = await setSettings(t, buyer, { webhookUrl: url });
  return { buyer, secret: webhookSecret! };
}

describe('delivery', () => {
  it('POSTs the alert as signed JSON; the receiver verifies the signature and reads the delivery id', async () => {
    const hooks = await receiver();
    const { buyer, secret } = await subscribed(hooks.url);
    await emit(t, buyer, { kind: AlertKind.LOW_BALANCE, message: 'below 10', data: { threshold: '10.000000', after: '4.000000' } });
    const [row] = await deliveriesOf(t, buyer);
    expect(row).toMatchObject({ url: hooks.url, attempts: 0, delivered: false });

    expect(await dispatcher().dispatchDue()).toBe(1);
    expect(hooks.received).toHaveLength(1);
    const hit = hooks.received[0];
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['ccx-webhook-id']).toBe(row.id);
    const signature = verifySignature(secret, hit.headers['ccx-signature'], hit.body);
    expect(signature.ok).toBe(true);
    // t is real wall time (replay protection), not the business clock.
    expect(Math.abs(signature.t - Date.now() / 1000)).toBeLessThan(60);
    expect(verifySignature('whsec_wrong', hit.headers['ccx-signature'], hit.body).ok).toBe(false);
    expect(verifySignature(secret, hit.headers['ccx-signature'], hit.body.replace('below 10', 'below 99')).ok).toBe(false);

    const [alert] = await alertsOf(t, buyer);
    expect(JSON.parse(hit.body)).toEqual({
      id: row.id,
      type: 'LOW_BALANCE',
      createdAt: CLOCK_START,
      data: {
        id: alert.id,
        organizationId: buyer.id,
        kind: 'LOW_BALANCE',
        message: 'below 10',
        data: { threshold: '10.000000', after: '4.000000' },
        createdAt: CLOCK_START,
      },
    });
    expect((await deliveriesOf(t, buyer))[0]).toMatchObject({ attempts: 1, delivered: true, failed: false, due_in_ms: null, last_error: null });
    expect(await dispatcher().dispatchDue()).toBe(0);
    expect(hooks.received).toHaveLength(1);
  });

  it('queues nothing for an organization without a webhook URL', async () => {
    const buyer = await register(t, 'BUYER');
    await emit(t, buyer);
    expect(await alertsOf(t, buyer)).toHaveLength(1);
    expect(await deliveriesOf(t, buyer)).toEqual([]);
  });

  it('retries a failing receiver with a growing backoff: 500, 500, 200 → three attempts, delivered once', async () => {
    const hooks = await receiver((n) => (n <= 2 ? 500 : 200));
    const { buyer, secret } = await subscribed(hooks.url);
    await emit(t, buyer);

    expect(await dispatcher().dispatchDue()).toBe(1);
    const first = (await deliveriesOf(t, buyer))[0];
    expect(first).toMatchObject({ attempts: 1, delivered: false, failed: false, last_error: 'HTTP 500' });
    // min(2^1 s, 1 h) + up to 10% jitter (plus the moments between the claim and the answer).
    expect(first.backoff_ms).toBeGreaterThanOrEqual(2_000);
    expect(first.backoff_ms).toBeLessThan(2_200 + 1_000);
    expect(first.due_in_ms).toBeGreaterThan(1_000);
    expect(await dispatcher().dispatchDue()).toBe(0); // not due yet

    await makeDue(t, buyer);
    expect(await dispatcher().dispatchDue()).toBe(1);
    const second = (await deliveriesOf(t, buyer))[0];
    expect(second).toMatchObject({ attempts: 2, delivered: false, last_error: 'HTTP 500' });
    expect(second.backoff_ms).toBeGreaterThanOrEqual(4_000);
    expect(second.backoff_ms).toBeLessThan(4_400 + 1_000);
    expect(second.backoff_ms!).toBeGreaterThan(first.backoff_ms!);

    await makeDue(t, buyer);
    expect(await dispatcher().dispatchDue()).toBe(1);
    expect((await deliveriesOf(t, buyer))[0]).toMatchObject({ attempts: 3, delivered: true, failed: false, last_error: null });
    await makeDue(t, buyer);
    expect(await dispatcher().dispatchDue()).toBe(0);

    expect(hooks.received.map((h) => h.status)).toEqual([500, 500, 200]);
    expect(new Set(hooks.received.map((h) => h.headers['ccx-webhook-id'])).size).toBe(1);
    expect(new Set(hooks.received.map((h) => h.body)).size).toBe(1);
    for (const h of hooks.received) expect(verifySignature(secret, h.headers['ccx-signature'], h.body).ok).toBe(true);
  });

  it('treats an unreachable receiver as a failed attempt, and gives up after the last attempt but keeps the row', async () => {
    const hooks = await receiver(() => 503);
    const { buyer } = await subscribed(hooks.url);
    await emit(t, buyer);
    // As if every attempt but the last had already failed.
    await t.db.dataSource.query(`UPDATE webhook_deliveries SET attempts = $2 WHERE organization_id = $1`, [buyer.id, MAX_DELIVERY_ATTEMPTS - 1]);
    expect(await dispatcher().dispatchDue()).toBe(1);
    expect((await deliveriesOf(t, buyer))[0]).toMatchObject({ attempts: MAX_DELIVERY_ATTEMPTS, delivered: false, failed: true, due_in_ms: null, last_error: 'HTTP 503' });
    expect(await dispatcher().dispatchDue()).toBe(0);

    const closed = await startReceiver();
    await closed.close();
    const { buyer: other } = await subscribed(closed.url);
    await emit(t, other);
    expect(await dispatcher().dispatchDue()).toBe(1);
    expect((await deliveriesOf(t, other))[0]).toMatchObject({ attempts: 1, delivered: false, failed: false, last_error: 'ECONNREFUSED' });
  });

  it('sends waiting deliveries to the current URL with the current secret; removing the URL stops them', async () => {
    const old = await receiver(() => 500);
    const fixed = await receiver();
    const { buyer } = await subscribed(old.url);
    await emit(t, buyer);
    await dispatcher().dispatchDue();
    expect(old.received).toHaveLength(1);
    const { webhookSecret } = await setSettings(t, buyer, { webhookUrl: fixed.url });
    await makeDue(t, buyer);
    expect(await dispatcher().dispatchDue()).toBe(1);
    expect(fixed.received).toHaveLength(1);
    expect(verifySignature(webhookSecret!, fixed.received[0].headers['ccx-signature'], fixed.received[0].body).ok).toBe(true);
    expect((await deliveriesOf(t, buyer))[0]).toMatchObject({ url: fixed.url, attempts: 2, delivered: true });

    await setSettings(t, buyer, { webhookUrl: old.url });
    await emit(t, buyer);
    await setSettings(t, buyer, { webhookUrl: null });
    expect((await deliveriesOf(t, buyer))[1]).toMatchObject({ delivered: false, failed: true, last_error: 'the webhook URL was removed' });
    expect(await dispatcher().dispatchDue()).toBe(0);
    expect(old.received).toHaveLength(1);
  });
});

describe('concurrency and restarts', () => {
  const env = (url: string, extra: Record<string, string> = {}) =>
    loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: url,
      CCX_OPERATOR_KEY: OPERATOR_KEY,
      CCX_TEST_CLOCK: 'true',
      CCX_CLOCK_START: CLOCK_START,
      CCX_SERVICING_INTERVAL_MS: '0',
      CCX_WEBHOOK_INTERVAL_MS: '0',
      // The receivers listen on 127.0.0.1 (as startTestApp's default).
      CCX_ALLOW_PRIVATE_URLS: 'true',
      ...extra,
    });
  const schemaFile = async () => join(await mkdtemp(join(tmpdir(), 'ccx-schema-')), 'schema.gql');

  it('two dispatchers (two API processes on one database) racing never send one delivery twice', async () => {
    const hooks = await receiver(() => 200, { delayMs: 25 });
    const { buyer } = await subscribed(hooks.url);
    for (let i = 0; i < 45; i++) await emit(t, buyer, { message: `alert ${i}` });
    const second = await startServer(env(t.db.url), { listen: false, schemaFile: await schemaFile() });
    try {
      const a = dispatcher();
      const b = second.app.get(WebhookDispatcher);
      const counts = await Promise.all([a.dispatchDue(), b.dispatchDue(), a.dispatchDue(), b.dispatchDue()]);
      expect(counts.reduce((s, n) => s + n, 0)).toBe(45);
    } finally {
      await second.close();
    }
    const ids = hooks.received.map((h) => h.headers['ccx-webhook-id']);
    expect(ids).toHaveLength(45);
    expect(new Set(ids).size).toBe(45);
    const rows = await deliveriesOf(t, buyer);
    expect(rows.every((r) => r.delivered && r.attempts === 1)).toBe(true);
  });

  it('a delivery left undelivered when the API stopped is sent by the next start (the timer picks it up)', async () => {
    const hooks = await receiver();
    const db = await createTestDatabase();
    let server: RunningServer | null = null;
    try {
      server = await startServer(env(db.url), { listen: false, schemaFile: await schemaFile() });
      const http = request(server.app.getHttpServer());
      const reg = await http.post('/graphql').send({ query: `mutation { registerOrganization(input: { name: "restart buyer", role: BUYER }) { apiKey organization { id } } }` });
      const buyer = { id: reg.body.data.registerOrganization.organization.id, key: reg.body.data.registerOrganization.apiKey };
      const upd = await request(server.app.getHttpServer())
        .post('/graphql')
        .set('authorization', `Bearer ${buyer.key}`)
        .send({ query: `mutation($url: String) { updateBalanceSettings(input: { webhookUrl: $url }) { webhookSecret } }`, variables: { url: hooks.url } });
      const secret = upd.body.data.updateBalanceSettings.webhookSecret;
      const alerts = server.app.get(AlertsService);
      await server.app
        .get(DataSource)
        .transaction((m) => alerts.emitInTransaction(m, { organizationId: buyer.id, kind: AlertKind.CREDITS_FROZEN, message: 'frozen before the restart', at: new Date(CLOCK_START) }));
      await server.close();
      server = null;
      const [pending] = await db.dataSource.query(`SELECT id, delivered_at FROM webhook_deliveries`);
      expect(pending.delivered_at).toBeNull();
      expect(hooks.received).toHaveLength(0);

      server = await startServer(env(db.url, { CCX_WEBHOOK_INTERVAL_MS: '50' }), { listen: false, schemaFile: await schemaFile() });
      await hooks.waitFor(1);
      expect(hooks.received[0].headers['ccx-webhook-id']).toBe(pending.id);
      expect(verifySignature(secret, hooks.received[0].headers['ccx-signature'], hooks.received[0].body).ok).toBe(true);
      for (let i = 0; i < 100; i++) {
        const [row] = await db.dataSource.query(`SELECT delivered_at FROM webhook_deliveries WHERE id = $1`, [pending.id]);
        if (row.delivered_at) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const [done] = await db.dataSource.query(`SELECT delivered_at, attempts FROM webhook_deliveries WHERE id = $1`, [pending.id]);
      expect(done.delivered_at).not.toBeNull();
      expect(done.attempts).toBe(1);
      expect(hooks.received).toHaveLength(1);
    } finally {
      await server?.close();
      await db.drop();
    }
  });
});
