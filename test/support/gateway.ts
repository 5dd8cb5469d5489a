import OpenAI from 'openai';
import { OPERATOR_KEY, TEST_GATEWAY_KEY, type TestApp } from './app.js';
import { createListing } from './drivers/listings.js';
import { purchase } from './drivers/market.js';
import { type Org, register } from './drivers/organizations.js';
import { upsertModel } from './drivers/usage.js';
import { deposit } from './drivers/wallets.js';

/** Makes the test app listen on 127.0.0.1 (port 0) so real HTTP clients reach it; its /v1 base URL. */
export async function listen(t: TestApp): Promise<string> {
  const server = t.app.getHttpServer();
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${server.address().port}/v1`;
}

/** The official SDK pointed at CCX: only the base URL and the key differ from using OpenAI. */
export function sdk(baseURL: string, key: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: key, maxRetries: 0, timeout: 30_000 });
}

export const ENDPOINT_FIELDS = 'id baseUrl apiKeyLastFour enabled circuitState requests failures models { model upstreamModel } listing { id servedCredits }';

export async function createEndpoint(
  t: TestApp,
  seller: Org,
  input: { listingId: string; baseUrl: string; apiKey?: string; models: { model: string; upstreamModel?: string }[] },
): Promise<any> {
  const res = await t.gql(`mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { ${ENDPOINT_FIELDS} } }`, { input }, seller.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createInferenceEndpoint;
}

/** A seller with an H100 listing at `price` per GPU-hour (credits = gpuHours). */
export async function sellerWithListing(t: TestApp, price: string, gpuHours = '100000'): Promise<{ seller: Org; listing: any }> {
  const seller = await register(t, 'SELLER');
  const listing = await createListing(t, seller, { gpuHours, wholesalePricePerGpuHour: price });
  return { seller, listing };
}

/** A buyer holding `credits` standard credits (bought on the market). */
export async function buyerWithCredits(t: TestApp, credits: string): Promise<Org> {
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '1000000.00');
  const res = await purchase(t, buyer, credits);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return buyer;
}

export async function model(t: TestApp, id: string, input: string, output: string, maxOutputTokens?: number): Promise<void> {
  if (maxOutputTokens === undefined) return upsertModel(t, id, input, output);
  const res = await t.gql(
    `mutation($input: ModelInput!) { upsertModel(input: $input) { id maxOutputTokens } }`,
    { input: { id, inputCreditsPerMillionTokens: input, outputCreditsPerMillionTokens: output, maxOutputTokens } },
    OPERATOR_KEY,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export async function available(t: TestApp, buyer: Org): Promise<string> {
  const res = await t.gql(`{ creditBalance { available held } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance.available;
}

export async function requestsOf(t: TestApp, key: string, first = 100): Promise<any[]> {
  const res = await t.gql(
    `{ inferenceRequests(first: ${first}) { totalCount edges { node { id model endpointId status attempts inputTokens outputTokens credits estimated stream latencyMs timeToFirstTokenMs } } } }`,
    {},
    key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.inferenceRequests.edges.map((e: any) => e.node);
}

/** Raw HTTP to the gateway (for shapes the SDK hides). */
export async function post(base: string, path: string, key: string | null, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A second API process's worth: another app on the same database (its own memory, pools, timers). */
export async function startPeer(t: TestApp, env: Record<string, string> = {}): Promise<{ app: import('@nestjs/common').INestApplication; base: string; close(): Promise<void> }> {
  const { loadConfig } = await import('../../apps/api/src/config/app-config.js');
  const { startServer } = await import('../../apps/api/src/bootstrap.js');
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: t.db.url,
    CCX_OPERATOR_KEY: OPERATOR_KEY,
    CCX_TEST_CLOCK: 'true',
    CCX_SERVICING_INTERVAL_MS: '0',
    CCX_WEBHOOK_INTERVAL_MS: '0',
    CCX_ALLOW_PRIVATE_URLS: 'true',
    CCX_GATEWAY_SECRET_KEY: TEST_GATEWAY_KEY,
    ...env,
  });
  const server = await startServer(config, { listen: false, schemaFile: join(await mkdtemp(join(tmpdir(), 'ccx-peer-')), 'schema.gql') });
  const http = server.app.getHttpServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { app: server.app, base: `http://127.0.0.1:${http.address().port}/v1`, close: () => server.close() };
}
