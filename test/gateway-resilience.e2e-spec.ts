import { Decimal } from '@ccx/core';
import { startTestApp, type TestApp } from './support/app.js';
import { usageEventsOf } from './support/db-probes.js';
import { integrity } from './support/drivers/operator.js';
import { D } from './support/oracles.js';
import { available, buyerWithCredits, createEndpoint, listen, model, post, requestsOf, sdk, sellerWithListing, startPeer } from './support/gateway.js';
import { startFakeProvider, type FakeProvider } from '../scripts/lib/fake-provider.js';

/**
 * SPEC §12 under stress: the circuit breaker shared by two API processes, a client that leaves
 * mid-stream, per-key monthly limits and revocation, and URLs that point inside.
 */

let t: TestApp;
let base: string;
let flaky: FakeProvider;
let steady: FakeProvider;
let flakyEndpoint: any;

const OPEN_MS = 1500;

beforeAll(async () => {
  t = await startTestApp({ CCX_GATEWAY_FIRST_BYTE_TIMEOUT_MS: '1000', CCX_GATEWAY_BREAKER_OPEN_MS: String(OPEN_MS) });
  base = await listen(t);
  await model(t, 'mistral-gw', '1', '1', 100);
  flaky = await startFakeProvider();
  steady = await startFakeProvider();
  const a = await sellerWithListing(t, '1.00');
  const b = await sellerWithListing(t, '3.00');
  flakyEndpoint = await createEndpoint(t, a.seller, { listingId: a.listing.id, baseUrl: flaky.url, models: [{ model: 'mistral-gw' }] });
  await createEndpoint(t, b.seller, { listingId: b.listing.id, baseUrl: steady.url, models: [{ model: 'mistral-gw' }] });
});

afterAll(async () => {
  await flaky?.close();
  await steady?.close();
  await t?.close();
});

afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const ask = (key: string, b = base) => post(b, '/chat/completions', key, { model: 'mistral-gw', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
const circuit = async () => (await t.db.dataSource.query(`SELECT state FROM endpoint_circuits WHERE endpoint_id = $1`, [flakyEndpoint.id]))[0].state;

describe('the circuit breaker, shared by two API processes', () => {
  it('opens after 5 failures in a row, spares the dead provider in both processes, probes once and closes', async () => {
    const peer = await startPeer(t, { CCX_GATEWAY_FIRST_BYTE_TIMEOUT_MS: '1000', CCX_GATEWAY_BREAKER_OPEN_MS: String(OPEN_MS) });
    try {
      const buyer = await buyerWithCredits(t, '10');
      flaky.setBehavior({ kind: 'status', status: 500 });
      // 5 failures, spread over both processes; every request is still served by the other provider.
      for (const b of [base, peer.base, base, peer.base, base]) expect((await ask(buyer.key, b)).status).toBe(200);
      expect(await circuit()).toBe('OPEN');
      const calls = flaky.requests.length;
      for (const b of [base, peer.base, base, peer.base]) expect((await ask(buyer.key, b)).status).toBe(200);
      expect(flaky.requests.length).toBe(calls); // neither process calls the open circuit

      // After the open time, exactly one probe while it is in flight (a slow one, so the others
      // arrive while it is HALF_OPEN): the provider is healthy again, so it closes.
      flaky.setBehavior({ kind: 'ok', delayMs: 400 });
      await new Promise((r) => setTimeout(r, OPEN_MS + 100));
      const results = await Promise.all([ask(buyer.key, base), ask(buyer.key, peer.base), ask(buyer.key, base)]);
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(flaky.requests.length).toBe(calls + 1);
      expect(await circuit()).toBe('CLOSED');
      expect((await ask(buyer.key, peer.base)).status).toBe(200);
      expect(flaky.requests.length).toBe(calls + 2);
    } finally {
      await peer.close();
    }
  });

  it('a failed probe opens it again', async () => {
    const buyer = await buyerWithCredits(t, '10');
    flaky.setBehavior({ kind: 'status', status: 503 });
    for (let i = 0; i < 5; i++) await ask(buyer.key);
    expect(await circuit()).toBe('OPEN');
    await new Promise((r) => setTimeout(r, OPEN_MS + 100));
    const calls = flaky.requests.length;
    expect((await ask(buyer.key)).status).toBe(200);
    expect(flaky.requests.length).toBe(calls + 1);
    expect(await circuit()).toBe('OPEN');
    flaky.setBehavior({ kind: 'ok' });
    await new Promise((r) => setTimeout(r, OPEN_MS + 100));
    await ask(buyer.key);
    expect(await circuit()).toBe('CLOSED');
  });

  it('a success written late does not hide the failures that came after it', async () => {
    const buyer = await buyerWithCredits(t, '10');
    await t.db.dataSource.query(`UPDATE endpoint_circuits SET state = 'CLOSED', consecutive_failures = 0, open_until = NULL, probe_until = NULL`);
    flaky.setBehavior({ kind: 'ok' });
    expect((await ask(buyer.key)).status).toBe(200);
    // At once (successes are written up to 100 ms later): five failures in a row.
    flaky.setBehavior({ kind: 'status', status: 500 });
    for (let i = 0; i < 5; i++) await ask(buyer.key);
    await new Promise((r) => setTimeout(r, 250));
    expect(await circuit()).toBe('OPEN');
    flaky.setBehavior({ kind: 'ok' });
    await new Promise((r) => setTimeout(r, OPEN_MS + 100));
    await ask(buyer.key);
    expect(await circuit()).toBe('CLOSED');
  });

  it('with every circuit open: 503 no_provider_available with Retry-After', async () => {
    const buyer = await buyerWithCredits(t, '10');
    await t.db.dataSource.query(`UPDATE endpoint_circuits SET state = 'OPEN', open_until = now() + interval '20 seconds'`);
    try {
      const res = await ask(buyer.key);
      expect(res.status).toBe(503);
      expect(res.json.error.code).toBe('no_provider_available');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(19);
    } finally {
      await t.db.dataSource.query(`UPDATE endpoint_circuits SET state = 'CLOSED', open_until = NULL, consecutive_failures = 0`);
      await t.db.dataSource.query(`DELETE FROM endpoint_outcomes`);
    }
  });
});

describe('a client that leaves mid-stream', () => {
  it('aborts the provider call and is charged what was delivered', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    flaky.setBehavior({ kind: 'trickle', chunks: ['alpha ', 'beta ', 'gamma ', 'delta ', 'omega'], chunkDelayMs: 150 });
    const aborted = flaky.aborted;
    const controller = new AbortController();
    const messages = [{ role: 'user' as const, content: 'slowly' }];
    const stream = await sdk(base, buyer.key).chat.completions.create({ model: 'mistral-gw', messages, stream: true }, { signal: controller.signal });
    const got: string[] = [];
    // The SDK ends the iteration (or throws an abort error) once the signal fires.
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) got.push(chunk.choices[0].delta.content);
        if (got.length === 2) controller.abort();
      }
    } catch (e) {
      expect(String(e)).toMatch(/abort/i);
    }
    expect(got).toEqual(['alpha ', 'beta ']);
    await waitFor(async () => (await requestsOf(t, buyer.key)).some((r) => r.status === 'CANCELLED'));
    expect(flaky.aborted).toBeGreaterThan(aborted);
    const [logged] = await requestsOf(t, buyer.key);
    expect(logged.status).toBe('CANCELLED');
    expect(logged.estimated).toBe(true);
    // At least what the client got, at most what was sent before the abort reached the provider.
    const inputBound = Buffer.byteLength(JSON.stringify(messages[0])) + 8;
    expect(logged.outputTokens).toBeGreaterThanOrEqual(Buffer.byteLength('alpha beta '));
    expect(logged.outputTokens).toBeLessThan(Buffer.byteLength('alpha beta gamma delta omega'));
    const charged = new Decimal(inputBound + logged.outputTokens).div(1_000_000).decimalPlaces(6, Decimal.ROUND_UP);
    expect(logged.credits).toBe(charged.toFixed(6));
    expect(D(await available(t, buyer))).toEqual(before.minus(charged));
    expect((await usageEventsOf(t, buyer)).length).toBe(1);
  });
});

describe('API keys at the gateway', () => {
  it('a key over its monthly limit gets 402 with limit_source key; other keys of the buyer go on', async () => {
    const buyer = await buyerWithCredits(t, '10');
    flaky.setBehavior({ kind: 'ok', usage: { prompt_tokens: 500, completion_tokens: 500 } });
    const created = await t.gql(
      `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }`,
      { input: { name: 'ci', monthlyCreditLimit: '0.0025' } },
      buyer.key,
    );
    expect(created.errors).toBeUndefined();
    const limited = created.data.createApiKey.secret;
    // Each call holds about 0.00104 and costs 0.001; the limit 0.0025 allows two, then 402.
    const big = () => post(base, '/chat/completions', limited, { model: 'mistral-gw', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000 });
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push((await big()).status);
    expect(statuses).toEqual([200, 200]);
    const refused = await big();
    expect(refused.status).toBe(402);
    expect(refused.json.error).toMatchObject({ type: 'insufficient_credits', limit_source: 'key' });
    const used = await t.gql(`{ apiKeys { id creditsUsedThisMonth monthlyCreditLimit } }`, {}, buyer.key);
    const row = used.data.apiKeys.find((k: any) => k.id === created.data.createApiKey.apiKey.id);
    expect(D(row.creditsUsedThisMonth).lte('0.0025')).toBe(true);
    expect(D(row.creditsUsedThisMonth)).toEqual(D('0.001').times(statuses.filter((s) => s === 200).length));
    expect((await ask(buyer.key)).status).toBe(200);
  });

  it('concurrent requests on a limited key never exceed its limit', async () => {
    const buyer = await buyerWithCredits(t, '10');
    // Slow answers: all 20 are in flight at once, so only the holds that fit the limit may start.
    flaky.setBehavior({ kind: 'ok', delayMs: 600, usage: { prompt_tokens: 1, completion_tokens: 1 } });
    const created = await t.gql(
      `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }`,
      { input: { name: 'burst', monthlyCreditLimit: '0.0005' } },
      buyer.key,
    );
    const key = created.data.createApiKey.secret;
    const results = await Promise.all(Array.from({ length: 20 }, () => ask(key)));
    const ok = results.filter((r) => r.status === 200).length;
    const hold = new Decimal(Buffer.byteLength(JSON.stringify({ role: 'user', content: 'hi' })) + 8 + 10).div(1_000_000);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(Math.floor(D('0.0005').div(hold).toNumber()));
    expect(results.filter((r) => r.status === 402).every((r) => r.json.error.limit_source === 'key')).toBe(true);
    const used = await t.gql(`{ apiKeys { id creditsUsedThisMonth } }`, {}, buyer.key);
    expect(D(used.data.apiKeys.find((k: any) => k.id === created.data.createApiKey.apiKey.id).creditsUsedThisMonth).lte('0.0005')).toBe(true);
  });

  it('a revoked key is refused on the next request, in the other process too', async () => {
    const peer = await startPeer(t);
    try {
      const buyer = await buyerWithCredits(t, '10');
      const created = await t.gql(`mutation { createApiKey(input: { name: "temp" }) { secret apiKey { id } } }`, {}, buyer.key);
      const key = created.data.createApiKey.secret;
      expect((await ask(key, peer.base)).status).toBe(200);
      const revoked = await t.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: created.data.createApiKey.apiKey.id }, buyer.key);
      expect(revoked.errors).toBeUndefined();
      const res = await ask(key, peer.base);
      expect(res.status).toBe(401);
      expect(res.json.error.type).toBe('authentication_error');
    } finally {
      await peer.close();
    }
  });
});

describe('rate limits at the gateway', () => {
  it('over the per-key rate: 429 in OpenAI shape with Retry-After', async () => {
    const limited = await startTestApp({ CCX_RATE_LIMIT_PER_KEY: '1', CCX_RATE_LIMIT_PER_KEY_BURST: '1' });
    try {
      const b = await listen(limited);
      const { register } = await import('./support/drivers/organizations.js');
      const buyer = await register(limited, 'BUYER');
      const body = { model: 'none', messages: [{ role: 'user', content: 'x' }] };
      await post(b, '/chat/completions', buyer.key, body);
      const res = await post(b, '/chat/completions', buyer.key, body);
      expect(res.status).toBe(429);
      expect(res.json.error).toMatchObject({ type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('no SSRF', () => {
  it('an endpoint URL pointing inside is refused unless CCX_ALLOW_PRIVATE_URLS=true', async () => {
    const strict = await startTestApp({ CCX_ALLOW_PRIVATE_URLS: 'false' });
    try {
      const { seller, listing } = await sellerWithListing(strict, '1.00');
      await model(strict, 'mistral-gw', '1', '1');
      for (const baseUrl of ['http://127.0.0.1:8000/v1', 'http://169.254.169.254/v1', 'http://10.1.2.3/v1', 'http://0x7f000001/v1', 'http://[::1]:8000/v1', 'http://localhost:8000/v1', 'file:///etc/passwd']) {
        const res = await strict.gql(
          `mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { id } }`,
          { input: { listingId: listing.id, baseUrl, models: [{ model: 'mistral-gw' }] } },
          seller.key,
        );
        expect({ baseUrl, code: res.code }).toEqual({ baseUrl, code: 'BAD_USER_INPUT' });
      }
      const count = await strict.db.dataSource.query(`SELECT count(*)::int AS n FROM inference_endpoints`);
      expect(count[0].n).toBe(0);
    } finally {
      await strict.close();
    }
  });
});

// Last: it moves the business clock.
describe('frozen credits', () => {
  it('402 credits_frozen when only frozen credits would cover the request, and no provider is called', async () => {
    const { register } = await import('./support/drivers/organizations.js');
    const { deposit } = await import('./support/drivers/wallets.js');
    const { acceptOk, clockTo, freeze, offerOk } = await import('./support/drivers/facilities.js');
    const buyer = await register(t, 'BUYER');
    const lender = await register(t, 'LENDER');
    await deposit(t, lender, '10000.00');
    const facility = await offerOk(t, lender, { borrowerId: buyer.id, principal: '1000.00', apr: '0.18', termMonths: 12 });
    await acceptOk(t, buyer, facility.id);
    await clockTo(t, '2026-02-12T12:00:00.000Z');
    expect((await freeze(t, lender.key, facility.id, 'missed a payment')).errors).toBeUndefined();
    const calls = flaky.requests.length + steady.requests.length;
    const res = await ask(buyer.key);
    expect(res.status).toBe(402);
    expect(res.json.error).toMatchObject({ type: 'insufficient_credits', code: 'credits_frozen', available: '0.000000' });
    expect(flaky.requests.length + steady.requests.length).toBe(calls);
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}
