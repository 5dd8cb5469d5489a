import { Decimal } from '@ccx/core';
import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { CONSUMED, ledgerBalance, usageEventsOf } from './support/db-probes.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { usageReport } from './support/drivers/usage.js';
import { walletOf } from './support/drivers/wallets.js';
import { D } from './support/oracles.js';
import { available, buyerWithCredits, createEndpoint, listen, model, post, requestsOf, sdk, sellerWithListing } from './support/gateway.js';
import { startFakeProvider, type FakeProvider } from '../scripts/lib/fake-provider.js';

/**
 * SPEC §12 through the official OpenAI SDK pointed at CCX, with vLLM-like fake providers on
 * 127.0.0.1: JSON and streams, exact charges, routing, failover, the 402, the request log.
 */

let t: TestApp;
let base: string;
let cheap: FakeProvider;
let dear: FakeProvider;
let cheapSeller: { seller: Org; listing: any };
let dearSeller: { seller: Org; listing: any };
let cheapEndpoint: any;
let dearEndpoint: any;

// 2 credits per million input tokens, 6 per million output tokens.
const IN = '2';
const OUT = '6';
const cost = (input: number, output: number) => new Decimal(input).times(IN).plus(new Decimal(output).times(OUT)).div(1_000_000).decimalPlaces(6, Decimal.ROUND_UP);

beforeAll(async () => {
  t = await startTestApp({ CCX_GATEWAY_FIRST_BYTE_TIMEOUT_MS: '400', CCX_GATEWAY_STALL_TIMEOUT_MS: '400', CCX_GATEWAY_BREAKER_OPEN_MS: '600' });
  base = await listen(t);
  await model(t, 'llama-gw', IN, OUT, 1000);
  cheap = await startFakeProvider();
  dear = await startFakeProvider();
  cheapSeller = await sellerWithListing(t, '1.00');
  dearSeller = await sellerWithListing(t, '2.00');
  cheapEndpoint = await createEndpoint(t, cheapSeller.seller, {
    listingId: cheapSeller.listing.id,
    baseUrl: cheap.url,
    apiKey: 'sk-upstream-secret-1234',
    models: [{ model: 'llama-gw', upstreamModel: 'meta/llama-70b' }],
  });
  dearEndpoint = await createEndpoint(t, dearSeller.seller, { listingId: dearSeller.listing.id, baseUrl: dear.url, models: [{ model: 'llama-gw' }] });
});

afterAll(async () => {
  await cheap?.close();
  await dear?.close();
  await t?.close();
});

afterEach(async () => {
  cheap.setBehavior({ kind: 'ok' });
  dear.setBehavior({ kind: 'ok' });
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

describe('a completion through the SDK', () => {
  it('answers, charges exactly the provider-reported usage, and leaves a receipt', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    const consumedBefore = await ledgerBalance(t, CONSUMED);
    cheap.setBehavior({ kind: 'ok', content: 'Paris is the capital.', usage: { prompt_tokens: 12, completion_tokens: 30 } });
    const client = sdk(base, buyer.key);
    const { data, response } = await client.chat.completions
      .create({ model: 'llama-gw', messages: [{ role: 'user', content: 'Capital of France?' }], max_tokens: 50, top_k: 7 } as any)
      .withResponse();
    expect(data.choices[0].message.content).toBe('Paris is the capital.');
    const charged = cost(12, 30);
    expect(response.headers.get('x-ccx-credits')).toBe(charged.toFixed(6));
    const requestId = response.headers.get('x-ccx-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(D(await available(t, buyer))).toEqual(before.minus(charged));
    expect((await ledgerBalance(t, CONSUMED)).minus(consumedBefore).abs()).toEqual(charged);

    // The provider got its own model name, the unknown field untouched, and the seller's key.
    const sent = cheap.requests.at(-1)!;
    expect(sent.body.model).toBe('meta/llama-70b');
    expect(sent.body.top_k).toBe(7);
    expect(sent.headers.authorization).toBe('Bearer sk-upstream-secret-1234');

    const [logged] = await requestsOf(t, buyer.key);
    expect(logged).toMatchObject({ id: requestId, model: 'llama-gw', endpointId: cheapEndpoint.id, status: 'SUCCEEDED', attempts: 1, inputTokens: 12, outputTokens: 30, credits: charged.toFixed(6), estimated: false, stream: false });
    const [event] = await usageEventsOf(t, buyer);
    expect(event).toMatchObject({ event_id: requestId, model: 'llama-gw', input_tokens: '12', output_tokens: '30' });
    expect(D(event.credits)).toEqual(charged);

    // Gateway usage is usage like any other: in the buyer's report and its CSV.
    const report = await usageReport(t, { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', groupBy: 'MODEL' }, buyer.key);
    expect(report.data.usageReport).toEqual([{ key: 'llama-gw', events: 1, credits: charged.toFixed(6) }]);
    const csv = await t.http().get('/v1/usage/report.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&groupBy=MODEL').set('authorization', `Bearer ${buyer.key}`);
    expect(csv.text).toContain(`llama-gw,1,${charged.toFixed(6)}`);

    // Prometheus: per endpoint attempts, latency and time to first token.
    const metrics = (await t.http().get('/metrics')).text;
    expect(metrics).toMatch(new RegExp(`ccx_gateway_attempts_total\\{endpoint="${cheapEndpoint.id}",outcome="ok"\\} [1-9]`));
    expect(metrics).toContain(`ccx_gateway_time_to_first_token_seconds_count{endpoint="${cheapEndpoint.id}"}`);
    expect(metrics).toMatch(/ccx_gateway_requests_total\{status="SUCCEEDED"\} [1-9]/);
  });

  it('streams chunk by chunk and ends with the usage chunk carrying the credits', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    cheap.setBehavior({ kind: 'stream', chunks: ['one ', 'two ', 'three'], usage: { prompt_tokens: 40, completion_tokens: 3 }, chunkDelayMs: 30 });
    const client = sdk(base, buyer.key);
    const stream = await client.chat.completions.create({
      model: 'llama-gw',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts: string[] = [];
    let usage: any = null;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) texts.push(chunk.choices[0].delta.content);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(texts.join('')).toBe('one two three');
    expect(usage).toMatchObject({ prompt_tokens: 40, completion_tokens: 3, credits: cost(40, 3).toFixed(6) });
    expect(D(await available(t, buyer))).toEqual(before.minus(cost(40, 3)));
    // CCX always asks the provider for usage, even when the client did not.
    expect(cheap.requests.at(-1)!.body.stream_options).toEqual({ include_usage: true });
  });

  it('a stream without usage asked for gets no usage chunk, and is still charged exactly', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    cheap.setBehavior({ kind: 'stream', chunks: ['a ', 'b'], usage: { prompt_tokens: 10, completion_tokens: 2 } });
    const stream = await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages: [{ role: 'user', content: 'x' }], stream: true });
    let sawUsage = false;
    for await (const chunk of stream) if (chunk.usage) sawUsage = true;
    expect(sawUsage).toBe(false);
    expect(D(await available(t, buyer))).toEqual(before.minus(cost(10, 2)));
  });

  it('a provider that reports no usage is charged by the bound rule and marked estimated', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    cheap.setBehavior({ kind: 'ok', content: 'héllo', usage: null });
    const messages = [{ role: 'user' as const, content: 'hi there' }];
    const { response } = await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages, max_tokens: 20 }).withResponse();
    const inputBound = Buffer.byteLength(JSON.stringify(messages[0])) + 8;
    const expected = cost(inputBound, Buffer.byteLength('héllo'));
    expect(response.headers.get('x-ccx-credits')).toBe(expected.toFixed(6));
    expect(D(await available(t, buyer))).toEqual(before.minus(expected));
    const [logged] = await requestsOf(t, buyer.key);
    expect(logged.estimated).toBe(true);
  });

  it('a provider reporting more than the hold is charged the hold, never more', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    const messages = [{ role: 'user' as const, content: 'tiny' }];
    cheap.setBehavior({ kind: 'ok', content: 'x', usage: { prompt_tokens: 999_999, completion_tokens: 999_999 } });
    const { response } = await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages, max_tokens: 10 }).withResponse();
    const bound = cost(Buffer.byteLength(JSON.stringify(messages[0])) + 8, 10);
    expect(response.headers.get('x-ccx-credits')).toBe(bound.toFixed(6));
    expect(D(await available(t, buyer))).toEqual(before.minus(bound));
  });
});

describe('a free model', () => {
  it('holds nothing, charges 0.000000 and still shows in the usage report', async () => {
    await model(t, 'free-gw', '0', '0');
    await createEndpoint(t, cheapSeller.seller, { listingId: cheapSeller.listing.id, baseUrl: cheap.url, models: [{ model: 'free-gw' }] }).catch(() => undefined);
    const buyer = await buyerWithCredits(t, '1');
    const before = await available(t, buyer);
    const { response } = await sdk(base, buyer.key).chat.completions.create({ model: 'free-gw', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.headers.get('x-ccx-credits')).toBe('0.000000');
    expect(await available(t, buyer)).toBe(before);
    const [event] = await usageEventsOf(t, buyer);
    expect(event).toMatchObject({ model: 'free-gw', credits: '0' });
  });
});

describe('routing and failover', () => {
  it('serves from the cheapest listing first', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const cheapCalls = cheap.requests.length;
    const dearCalls = dear.requests.length;
    await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    expect(cheap.requests.length).toBe(cheapCalls + 1);
    expect(dear.requests.length).toBe(dearCalls);
  });

  it.each([
    ['a 500', { kind: 'status', status: 500 }],
    ['a 429 with Retry-After', { kind: 'status', status: 429, retryAfter: '3' }],
    ['no headers before the first-byte timeout', { kind: 'hang' }],
  ] as const)('fails over on %s, and charges once', async (_name, behavior) => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    cheap.setBehavior(behavior as any);
    dear.setBehavior({ kind: 'ok', content: 'from the second', usage: { prompt_tokens: 5, completion_tokens: 5 } });
    const res = await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    expect(res.choices[0].message.content).toBe('from the second');
    expect(D(await available(t, buyer))).toEqual(before.minus(cost(5, 5)));
    const [logged] = await requestsOf(t, buyer.key);
    expect(logged).toMatchObject({ status: 'SUCCEEDED', attempts: 2, endpointId: dearEndpoint.id });
    await resetCircuits();
  });

  it('a provider 400 goes back to the client as it is, and nothing is charged', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = await available(t, buyer);
    cheap.setBehavior({ kind: 'status', status: 400, body: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } } });
    const dearCalls = dear.requests.length;
    const res = await post(base, '/chat/completions', buyer.key, { model: 'llama-gw', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe('bad temperature');
    expect(dear.requests.length).toBe(dearCalls);
    expect(await available(t, buyer)).toBe(before);
  });

  it('every provider failing is a 502 provider_error and charges nothing', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = await available(t, buyer);
    cheap.setBehavior({ kind: 'status', status: 503 });
    dear.setBehavior({ kind: 'status', status: 500 });
    const res = await post(base, '/chat/completions', buyer.key, { model: 'llama-gw', messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(502);
    expect(res.json.error).toMatchObject({ type: 'api_error', code: 'provider_error' });
    expect(res.headers.get('x-ccx-request-id')).toBeTruthy();
    expect(await available(t, buyer)).toBe(before);
    expect(D((await creditBalance(buyer)).held)).toEqual(D(0));
    const [logged] = await requestsOf(t, buyer.key);
    expect(logged).toMatchObject({ status: 'FAILED', attempts: 2, credits: '0.000000' });
    await resetCircuits();
  });

  // Once a byte has gone to the client nothing is retried: the stream ends with an error chunk
  // (which the SDK raises), and only what was delivered is charged, by the bound rule.
  it.each([
    ['a stream cut by the provider', { kind: 'stream', chunks: ['abc ', 'def ', 'ghi'], usage: null, cutAfter: 2 }, 'abc def '],
    ['a provider that stalls past the stall timeout', { kind: 'trickle', chunks: ['first ', 'never'], chunkDelayMs: 3000 }, 'first '],
  ] as const)('never fails over after the first byte: %s ends with an error chunk, charged what was delivered', async (_name, behavior, delivered) => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    cheap.setBehavior(behavior as any);
    const dearCalls = dear.requests.length;
    const messages = [{ role: 'user' as const, content: 'go' }];
    const stream = await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages, stream: true });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) got.push(chunk.choices[0].delta.content);
      })(),
    ).rejects.toThrow(/mid-stream/);
    expect(got.join('')).toBe(delivered);
    expect(dear.requests.length).toBe(dearCalls);
    const expected = cost(Buffer.byteLength(JSON.stringify(messages[0])) + 8, Buffer.byteLength(delivered));
    expect(D(await available(t, buyer))).toEqual(before.minus(expected));
    const [logged] = await requestsOf(t, buyer.key);
    expect(logged).toMatchObject({ status: 'FAILED', estimated: true, credits: expected.toFixed(6) });
    await resetCircuits();
  });
});

describe('credits run out', () => {
  it('402 before any provider is called, in the SPEC body, and the SDK surfaces it', async () => {
    const buyer = await buyerWithCredits(t, '0.01');
    const calls = cheap.requests.length + dear.requests.length;
    const body = { model: 'llama-gw', messages: [{ role: 'user' as const, content: 'hello' }], max_tokens: 10_000 };
    const res = await post(base, '/chat/completions', buyer.key, body);
    expect(res.status).toBe(402);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const inputBound = Buffer.byteLength(JSON.stringify(body.messages[0])) + 8;
    const required = cost(inputBound, 10_000);
    expect(res.json.error).toEqual({
      message: expect.any(String),
      type: 'insufficient_credits',
      code: 'insufficient_credits',
      param: null,
      available: '0.010000',
      required: required.toFixed(6),
      affordable_max_tokens: expect.any(Number),
    });
    // The affordable bound really is affordable, and one more token is not.
    const k = res.json.error.affordable_max_tokens;
    expect(cost(inputBound, k).lte('0.01')).toBe(true);
    expect(cost(inputBound, k + 1).gt('0.01')).toBe(true);
    expect(cheap.requests.length + dear.requests.length).toBe(calls);
    await expect(sdk(base, buyer.key).chat.completions.create(body)).rejects.toMatchObject({ status: 402 });
    const ok = await sdk(base, buyer.key).chat.completions.create({ ...body, max_tokens: k });
    expect(ok.choices.length).toBe(1);
    const [refused] = (await requestsOf(t, buyer.key)).filter((r) => r.status === 'REFUSED');
    expect(refused).toMatchObject({ credits: '0.000000', attempts: 0 });
  });

  it('n multiplies the output bound of the hold', async () => {
    const buyer = await buyerWithCredits(t, '0.02');
    const body = { model: 'llama-gw', messages: [{ role: 'user', content: 'x' }], max_tokens: 1000, n: 4 };
    const res = await post(base, '/chat/completions', buyer.key, body);
    expect(res.status).toBe(402);
    expect(res.json.error.required).toBe(cost(Buffer.byteLength(JSON.stringify(body.messages[0])) + 8, 4000).toFixed(6));
  });

  it('50 concurrent streams racing for the last credits never overspend, and every charge is in the ledger', async () => {
    const buyer = await buyerWithCredits(t, '0.1');
    // Under this load a provider may miss the test's short first-byte timeout: both answer alike.
    for (const p of [cheap, dear]) p.setBehavior({ kind: 'stream', chunks: ['x ', 'y'], usage: { prompt_tokens: 100, completion_tokens: 900 }, chunkDelayMs: 5 });
    const consumedBefore = await ledgerBalance(t, CONSUMED);
    const body = { model: 'llama-gw', messages: [{ role: 'user', content: 'race' }], max_tokens: 1000, stream: true };
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${buyer.key}` }, body: JSON.stringify(body) });
        await res.text();
        return res.status;
      }),
    );
    const served = results.filter((s) => s === 200).length;
    expect(served + results.filter((s) => s === 402).length).toBe(50);
    const each = cost(100, 900);
    const hold = cost(Buffer.byteLength(JSON.stringify(body.messages[0])) + 8, 1000);
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThanOrEqual(Math.floor(D('0.1').div(hold).toNumber()) + Math.ceil(D('0.1').div(each).toNumber()));
    const left = D(await available(t, buyer));
    expect(left.gte(0)).toBe(true);
    expect(left).toEqual(D('0.1').minus(each.times(served)));
    expect((await ledgerBalance(t, CONSUMED)).minus(consumedBefore).abs()).toEqual(each.times(served));
    const events = await usageEventsOf(t, buyer);
    expect(events.length).toBe(served);
    await resetCircuits();
  });
});

describe('bad requests never cost anything', () => {
  it.each([
    ['not JSON', '{"model": ', 400],
    ['no messages', { model: 'llama-gw' }, 400],
    ['empty messages', { model: 'llama-gw', messages: [] }, 400],
    ['a message without a role', { model: 'llama-gw', messages: [{ content: 'x' }] }, 400],
    ['n of 0', { model: 'llama-gw', messages: [{ role: 'user', content: 'x' }], n: 0 }, 400],
    ['negative max_tokens', { model: 'llama-gw', messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }, 400],
    ['stream as a string', { model: 'llama-gw', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 400],
    ['an array body', [1, 2], 400],
    ['an unknown model', { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }, 404],
  ])('%s', async (_name, body, status) => {
    const buyer = await buyerWithCredits(t, '1');
    const before = await available(t, buyer);
    const res = await post(base, '/chat/completions', buyer.key, body);
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: status === 404 ? 'model_not_found' : expect.any(String) });
    expect(await available(t, buyer)).toBe(before);
  });

  it('who may call: no key 401, an unknown key 401, a seller 403, all in OpenAI shape', async () => {
    const body = { model: 'llama-gw', messages: [{ role: 'user', content: 'x' }] };
    const none = await post(base, '/chat/completions', null, body);
    expect(none.status).toBe(401);
    expect(none.json.error.type).toBe('authentication_error');
    const unknown = await post(base, '/chat/completions', 'ccx_nope', body);
    expect(unknown.status).toBe(401);
    expect(unknown.json.error).toMatchObject({ type: 'authentication_error' });
    const seller = await post(base, '/chat/completions', cheapSeller.seller.key, body);
    expect(seller.status).toBe(403);
    expect(seller.json.error.type).toBe('permission_error');
  });

  it('a body over the limit is 413', async () => {
    const buyer = await buyerWithCredits(t, '1');
    const res = await post(base, '/chat/completions', buyer.key, { model: 'llama-gw', messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe('request_too_large');
  });
});

describe('models, idempotency, embeddings', () => {
  it('GET /v1/models lists what eligible endpoints serve, with rates', async () => {
    const buyer = await buyerWithCredits(t, '1');
    const list = await sdk(base, buyer.key).models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toContain('llama-gw');
    expect((list.data.find((m) => m.id === 'llama-gw') as any).pricing).toMatchObject({ input: '2.000000', output: '6.000000' });
  });

  it('an Idempotency-Key replays the first answer without calling a provider or charging again', async () => {
    const buyer = await buyerWithCredits(t, '10');
    cheap.setBehavior({ kind: 'ok', content: 'once', usage: { prompt_tokens: 7, completion_tokens: 7 } });
    const body = { model: 'llama-gw', messages: [{ role: 'user', content: 'idem' }], max_tokens: 10 };
    const first = await post(base, '/chat/completions', buyer.key, body, { 'idempotency-key': 'k-1' });
    const calls = cheap.requests.length;
    const after = await available(t, buyer);
    const again = await post(base, '/chat/completions', buyer.key, body, { 'idempotency-key': 'k-1' });
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('x-ccx-credits')).toBe(first.headers.get('x-ccx-credits'));
    expect(cheap.requests.length).toBe(calls);
    expect(await available(t, buyer)).toBe(after);
    const conflict = await post(base, '/chat/completions', buyer.key, { ...body, max_tokens: 11 }, { 'idempotency-key': 'k-1' });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('idempotency_conflict');
  });

  it('a retry while the first is running is 409 request_in_progress', async () => {
    const buyer = await buyerWithCredits(t, '10');
    cheap.setBehavior({ kind: 'ok', delayMs: 300 });
    const body = { model: 'llama-gw', messages: [{ role: 'user', content: 'slow' }], max_tokens: 10 };
    const first = post(base, '/chat/completions', buyer.key, body, { 'idempotency-key': 'k-slow' });
    await new Promise((r) => setTimeout(r, 100));
    const second = await post(base, '/chat/completions', buyer.key, body, { 'idempotency-key': 'k-slow' });
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('request_in_progress');
    expect((await first).status).toBe(200);
  });

  it('embeddings are held, served and charged like chat', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const before = D(await available(t, buyer));
    const res = await sdk(base, buyer.key).embeddings.create({ model: 'llama-gw', input: ['hello world', 'second'] });
    expect(res.data.length).toBe(2);
    const charged = cost(res.usage.prompt_tokens, 0);
    expect(D(await available(t, buyer))).toEqual(before.minus(charged));
  });
});

describe('sellers', () => {
  it('the upstream key is write-only; the seller sees its endpoints and servedCredits', async () => {
    const res = await t.gql(`{ inferenceEndpoints { id apiKeyLastFour baseUrl listing { id servedCredits } } }`, {}, cheapSeller.seller.key);
    expect(res.errors).toBeUndefined();
    const mine = res.data.inferenceEndpoints.find((e: any) => e.id === cheapEndpoint.id);
    expect(mine.apiKeyLastFour).toBe('1234');
    expect(D(mine.listing.servedCredits).gt(0)).toBe(true);
    const [stored] = await t.db.dataSource.query(`SELECT api_key_encrypted FROM inference_endpoints WHERE id = $1`, [cheapEndpoint.id]);
    expect(Buffer.from(stored.api_key_encrypted).includes(Buffer.from('sk-upstream-secret-1234'))).toBe(false);
    // Each seller sees its own endpoints only.
    expect(res.data.inferenceEndpoints.map((e: any) => e.id)).not.toContain(dearEndpoint.id);
    const other = await t.gql(`{ inferenceEndpoints { id } }`, {}, dearSeller.seller.key);
    expect(other.data.inferenceEndpoints.map((e: any) => e.id)).toEqual([dearEndpoint.id]);
    const all = await t.gql(`{ inferenceEndpoints { id } }`, {}, OPERATOR_KEY);
    expect(all.data.inferenceEndpoints.length).toBeGreaterThanOrEqual(2);
  });

  it('a seller cannot attach an endpoint to another seller\'s listing, nor touch its endpoint', async () => {
    const res = await t.gql(
      `mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { id } }`,
      { input: { listingId: cheapSeller.listing.id, baseUrl: dear.url, models: [{ model: 'llama-gw' }] } },
      dearSeller.seller.key,
    );
    expect(res.code).toBe('NOT_FOUND');
    const toggle = await t.gql(`mutation($id: ID!) { setInferenceEndpointEnabled(id: $id, enabled: false) { id } }`, { id: cheapEndpoint.id }, dearSeller.seller.key);
    expect(toggle.code).toBe('NOT_FOUND');
    const buyer = await register(t, 'BUYER');
    const asBuyer = await t.gql(`{ inferenceEndpoints { id } }`, {}, buyer.key);
    expect(asBuyer.code).toBe('FORBIDDEN');
  });

  it('a disabled endpoint is not routed to; the sellers requests show only what it served', async () => {
    const buyer = await buyerWithCredits(t, '10');
    const off = await t.gql(`mutation($id: ID!) { setInferenceEndpointEnabled(id: $id, enabled: false) { enabled } }`, { id: cheapEndpoint.id }, cheapSeller.seller.key);
    expect(off.data.setInferenceEndpointEnabled.enabled).toBe(false);
    try {
      const calls = cheap.requests.length;
      await sdk(base, buyer.key).chat.completions.create({ model: 'llama-gw', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
      expect(cheap.requests.length).toBe(calls);
      const seen = await requestsOf(t, dearSeller.seller.key);
      expect(seen.every((r) => r.endpointId === dearEndpoint.id)).toBe(true);
    } finally {
      await t.gql(`mutation($id: ID!) { setInferenceEndpointEnabled(id: $id, enabled: true) { enabled } }`, { id: cheapEndpoint.id }, cheapSeller.seller.key);
    }
  });

  it('credits served beyond the listing\'s allocation are paid to the seller in whole cents at servicing', async () => {
    // A listing nobody bought from (the buyer bought before it was listed): everything it serves
    // is beyond its allocation.
    const buyer = await buyerWithCredits(t, '100');
    const extra = await sellerWithListing(t, '0.50', '1000');
    const fake = await startFakeProvider({ behavior: { kind: 'ok', usage: { prompt_tokens: 0, completion_tokens: 1_000_000 } } });
    try {
      await createEndpoint(t, extra.seller, { listingId: extra.listing.id, baseUrl: fake.url, models: [{ model: 'llama-gw' }] });
      const walletBefore = D(await walletOf(t, extra.seller));
      // Cheaper than every other listing, but it owes nothing: the owed listings go first, unless asked.
      const res = await post(base, '/chat/completions', buyer.key, {
        model: 'llama-gw',
        messages: [{ role: 'user', content: 'x' }],
        max_tokens: 1_000_000,
        provider: { order: [(await endpointOf(extra.seller)).id], allow_fallbacks: false },
      });
      expect(res.status).toBe(200);
      const served = cost(0, 1_000_000); // 6 credits
      expect(res.headers.get('x-ccx-credits')).toBe(served.toFixed(6));
      await advance(1);
      // 6 credits × 0.50 per credit = 3.00 USD, beyond an allocation of 0.
      expect(D(await walletOf(t, extra.seller)).minus(walletBefore)).toEqual(served.times('0.5').decimalPlaces(2, Decimal.ROUND_DOWN));
      await advance(2);
      expect(D(await walletOf(t, extra.seller)).minus(walletBefore)).toEqual(served.times('0.5').decimalPlaces(2, Decimal.ROUND_DOWN));
    } finally {
      await fake.close();
    }
  });
});

async function creditBalance(buyer: Org): Promise<{ available: string; held: string }> {
  const res = await t.gql(`{ creditBalance { available held } }`, {}, buyer.key);
  return res.data.creditBalance;
}

async function endpointOf(seller: Org): Promise<any> {
  const res = await t.gql(`{ inferenceEndpoints { id } }`, {}, seller.key);
  return res.data.inferenceEndpoints[0];
}

let clockMinutes = 0;
/** Moves the business clock forward (servicing runs at once). */
async function advance(minutes: number): Promise<void> {
  const res = await t.gql(`{ clock }`);
  clockMinutes += minutes;
  const to = new Date(new Date(res.data.clock).getTime() + minutes * 60_000).toISOString();
  const moved = await t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to }, OPERATOR_KEY);
  if (moved.errors) throw new Error(JSON.stringify(moved.errors));
}

/** Closes every circuit (tests that fail providers on purpose must not leak open circuits). */
async function resetCircuits(): Promise<void> {
  await t.db.dataSource.query(`UPDATE endpoint_circuits SET state = 'CLOSED', consecutive_failures = 0, open_until = NULL, probe_until = NULL`);
  await t.db.dataSource.query(`DELETE FROM endpoint_outcomes`);
}


