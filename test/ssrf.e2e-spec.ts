import { AlertKind } from '../apps/api/src/alerts/domain/alert-kind.js';
import { WebhookDispatcher } from '../apps/api/src/alerts/webhook-dispatcher.js';
import { startTestApp, type TestApp } from './support/app.js';
import { deliveriesOf, emit, setSettings, updateSettings } from './support/alerts.js';
import { type Org, register } from './support/drivers/organizations.js';
import { startReceiver, type WebhookReceiver } from './support/webhooks.js';

/**
 * Issue 9 item 9: no SSRF through webhook URLs. With CCX_ALLOW_PRIVATE_URLS=false (the default
 * outside tests), a webhook URL naming this machine, a private network or the cloud metadata
 * service is refused when it is saved, in every spelling; and a URL whose host resolves to such an
 * address at delivery time (DNS rebinding) is never called. A receiver on 127.0.0.1 stands in for
 * the internal service an attacker would aim at: it must count zero requests.
 */
let t: TestApp;
let internal: WebhookReceiver;
beforeAll(async () => {
  t = await startTestApp({ CCX_ALLOW_PRIVATE_URLS: 'false' });
  internal = await startReceiver();
});
afterAll(async () => {
  await internal?.close();
  await t?.close();
});

const KEPT = 'https://hooks.example.com/kept';
/** Test URLs name the internal receiver's port as PORT (it is chosen when the file starts). */
const withPort = (url: string) => url.replace('PORT', new URL(internal.url).port);
const settingsRow = (org: Org) => t.db.dataSource.query(`SELECT * FROM balance_settings WHERE organization_id = $1`, [org.id]);

describe('a webhook URL is refused when it is saved', () => {
  it.each([
    ['http://127.0.0.1:PORT/internal-admin', 'loopback'],
    ['http://localhost:PORT/', 'local or internal name'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://10.0.0.5/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://172.16.0.1/', 'private'],
    ['http://0x7f000001:PORT/', 'loopback'],
    ['http://2130706433:PORT/', 'loopback'],
    ['http://0177.0.0.1:PORT/', 'loopback'],
    ['http://127.1:PORT/', 'loopback'],
    ['http://[::1]:PORT/', 'loopback'],
    ['http://[::ffff:127.0.0.1]:PORT/', 'loopback'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://[fd00:ec2::254]/', 'unique-local'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'local or internal name'],
    ['ftp://example.com/', 'must start with https:// or http://'],
    ['http://user:pw@example.com/', 'must not contain a user name or password'],
  ])('%s: BAD_USER_INPUT (%s), and the settings stay as they were', async (url, reason) => {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { lowBalanceThreshold: '7', webhookUrl: KEPT });
    const before = await settingsRow(buyer);

    const res = await updateSettings(t, buyer, { lowBalanceThreshold: '9', webhookUrl: withPort(url) });
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(res.errors![0].message).toMatch(/^webhookUrl /);
    expect(res.errors![0].message).toContain(reason);
    expect(await settingsRow(buyer)).toEqual(before);
  });

  it('still accepts a public URL', async () => {
    const buyer = await register(t, 'BUYER');
    const set = await setSettings(t, buyer, { webhookUrl: 'https://hooks.example.com/ccx?x=1' });
    expect(set.webhookUrl).toBe('https://hooks.example.com/ccx?x=1');
    expect(set.webhookSecret).toMatch(/^whsec_/);
  });
});

describe('a webhook URL is checked again at delivery, on the address connected to', () => {
  /**
   * A buyer whose stored URL is `url`: saved while it still looked public (a name that later
   * resolves privately, or a URL saved before this check existed), so written behind the API.
   */
  async function storedWebhook(url: string): Promise<Org> {
    const buyer = await register(t, 'BUYER');
    await setSettings(t, buyer, { webhookUrl: KEPT });
    await t.db.dataSource.query(`UPDATE balance_settings SET webhook_url = $2 WHERE organization_id = $1`, [buyer.id, url]);
    return buyer;
  }

  it.each([
    ['a host name that now resolves to 127.0.0.1 (DNS rebinding)', 'http://localhost:PORT/internal-admin', /^refused: localhost resolves to a loopback address \((127\.0\.0\.1|::1)\)$/],
    ['a loopback IP', 'http://127.0.0.1:PORT/internal-admin', /^refused: 127\.0\.0\.1 is a loopback address$/],
    ['an IPv4-mapped loopback IP', 'http://[::ffff:127.0.0.1]:PORT/internal-admin', /^refused: ::ffff:7f00:1 is a loopback address$/],
  ])('%s: never called; the attempt fails with the reason and is retried as usual', async (_label, url, error) => {
    const buyer = await storedWebhook(withPort(url));
    await emit(t, buyer, { kind: AlertKind.LOW_BALANCE });

    expect(await t.app.get(WebhookDispatcher).dispatchDue()).toBe(1);
    const [row] = await deliveriesOf(t, buyer);
    expect(row).toMatchObject({ url: withPort(url), attempts: 1, delivered: false, failed: false });
    expect(row.last_error).toMatch(error);
    expect(row.due_in_ms).toBeGreaterThan(1_000);
    expect(internal.received).toHaveLength(0);
  });
});

describe('afterwards', () => {
  it('the internal service received no request at all (every refusal above, at save and at delivery)', () => {
    expect(internal.received).toHaveLength(0);
  });
});
