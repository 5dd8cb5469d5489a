import { ApiKeyAuthenticator } from '../apps/api/src/auth/api-key-authenticator.js';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';

/**
 * Request limits (README "Request limits"): GraphQL depth, aliases and complexity refused at
 * validation (no resolver runs), batching off, introspection and GraphiQL by configuration, and
 * the per-key / per-address rate limits with their 429 answers.
 */

const REGISTER = `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`;
const page = (alias: string) => `${alias}: listings(first: 100) { edges { node { id } } }`;

/** Production without the test clock (loadConfig refuses CCX_TEST_CLOCK there). */
const PRODUCTION = { NODE_ENV: 'production', CCX_TEST_CLOCK: '', CCX_CLOCK_START: '' };

function expectRefused(res: { status: number; data: unknown; errors?: { message: string }[]; code?: string }, message: RegExp): void {
  expect(res.status).toBe(400);
  expect(res.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(res.data).toBeNull();
  expect(res.errors!.map((e) => e.message)).toContainEqual(expect.stringMatching(message));
}

describe('GraphQL request limits (defaults: depth 10, 30 aliases, complexity 1000)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves an ordinary query, including a full page of listings', async () => {
    const res = await t.gql(`{ clock listings(first: 100) { totalCount edges { node { id gpuType region status } } pageInfo { hasNextPage } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.listings.totalCount).toBe(0);
  });

  it('refuses a query nested too deep', async () => {
    // The schema has no cycles of its own, but introspection does (a type's fields have types).
    // graphql-js's own MaxIntrospectionDepthRule refuses this one too; ours names the limit.
    const res = await t.gql(`{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { name } } } } } } } } } } } }`);
    expectRefused(res, /nested 12 fields deep; the limit is 10/);
  });

  it('refuses too many aliases, and no resolver runs', async () => {
    const before = (await t.gql(`{ clock }`)).data.clock;
    const moves = Array.from({ length: 31 }, (_, i) => `m${i}: advanceTestClock(to: "2026-0${1 + (i % 8)}-20T00:00:00Z")`);
    const res = await t.gql(`mutation Many { ${moves.join(' ')} }`, {}, OPERATOR_KEY);
    expectRefused(res, /mutation Many uses 31 aliases; the limit is 30/);
    expect((await t.gql(`{ clock }`)).data.clock).toBe(before);
  });

  it('refuses a query too complex: full listing pages under several aliases', async () => {
    const res = await t.gql(`{ ${['a', 'b', 'c', 'd'].map(page).join(' ')} }`);
    expectRefused(res, /estimated complexity of 1204; the limit is 1000/);
    // Three such pages (903) are within the limit.
    const ok = await t.gql(`{ ${['a', 'b', 'c'].map(page).join(' ')} }`);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.a.edges).toEqual([]);
  });

  it('judges a `first` variable as a full page of 100 when it has no default', async () => {
    const res = await t.gql(`query($n: Int) { ${['a', 'b', 'c', 'd'].map((a) => `${a}: listings(first: $n) { edges { node { id } } }`).join(' ')} }`, { n: 1 });
    expectRefused(res, /estimated complexity of 1204/);
  });

  it('refuses a batched (JSON array) body', async () => {
    const res = await t
      .http()
      .post('/graphql')
      .set('content-type', 'application/json')
      .send([{ query: '{ clock }' }, { query: '{ clock }' }]);
    // Apollo's own refusal (allowBatchedHttpRequests: false), with its protocol code.
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ errors: [{ message: 'Operation batching disabled.', extensions: { code: 'BAD_REQUEST' } }] });
    const single = await t.http().post('/graphql').set('content-type', 'application/json').send([{ query: '{ clock }' }]);
    expect(single.status).toBe(400);
  });

  it('allows introspection in test (not production)', async () => {
    const res = await t.gql(`{ __schema { queryType { name } } }`);
    expect(res.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('GraphQL limits from configuration', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CCX_GRAPHQL_MAX_DEPTH: '3', CCX_GRAPHQL_MAX_ALIASES: '1', CCX_GRAPHQL_MAX_COMPLEXITY: '20' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['depth', `{ listings(first: 1) { edges { node { id } } } }`, /nested 4 fields deep; the limit is 3/],
    ['aliases', `{ a: clock b: clock }`, /uses 2 aliases; the limit is 1/],
    ['complexity', `{ listings(first: 10) { totalCount pageInfo { hasNextPage } } }`, /estimated complexity of 22; the limit is 20/],
  ])('applies CCX_GRAPHQL_MAX_%s', async (_name, query, message) => {
    expectRefused(await t.gql(query), message);
  });
});

describe('introspection and GraphiQL', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });
  const start = async (env: Record<string, string>) => {
    const t = await startTestApp(env);
    apps.push(t);
    return t;
  };
  const graphiql = (t: TestApp) => t.http().get('/graphql').set('accept', 'text/html');

  it('are off in production', async () => {
    const t = await start(PRODUCTION);
    for (const query of [`{ __schema { queryType { name } } }`, `{ __type(name: "Query") { name } }`]) {
      const res = await t.gql(query);
      expect(res.status).toBe(400);
      expect(res.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.errors![0].message).toMatch(/introspection is not allowed/i);
      expect(res.data).toBeNull();
    }
    expect((await t.gql(`{ clock }`)).errors).toBeUndefined();
    const page = await graphiql(t);
    expect(page.text).not.toMatch(/graphiql/i);
  });

  it('are on in production with CCX_GRAPHQL_INTROSPECTION=true', async () => {
    const t = await start({ ...PRODUCTION, CCX_GRAPHQL_INTROSPECTION: 'true' });
    expect((await t.gql(`{ __schema { queryType { name } } }`)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const page = await graphiql(t);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/graphiql/i);
  });

  it('are on in development', async () => {
    const t = await start({ NODE_ENV: 'development' });
    expect((await t.gql(`{ __type(name: "Query") { name } }`)).data).toEqual({ __type: { name: 'Query' } });
    const page = await graphiql(t);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/graphiql/i);
  });
});

describe('rate limits (5 requests a minute per key and per address)', () => {
  let t: TestApp;
  let buyer: { id: string; key: string };
  let other: { id: string; key: string };

  beforeAll(async () => {
    t = await startTestApp({ CCX_RATE_LIMIT_PER_KEY: '5', CCX_RATE_LIMIT_PER_IP: '5' });
    // Two anonymous requests of this address's five.
    const keys = [];
    for (const name of ['limited buyer', 'other buyer']) {
      const res = await t.gql(REGISTER, { input: { name, role: 'BUYER' } });
      keys.push({ id: res.data.registerOrganization.organization.id, key: res.data.registerOrganization.apiKey });
    }
    [buyer, other] = keys;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Retry-After in whole seconds: at 5 a minute the next token is at most 12 s away. */
  function retryAfter(res: { headers: Record<string, string> }): number {
    const seconds = Number(res.headers['retry-after']);
    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(12);
    return seconds;
  }

  const post = (query: string, key?: string) => {
    const req = t.http().post('/graphql').set('content-type', 'application/json');
    if (key) req.set('authorization', `Bearer ${key}`);
    return req.send({ query });
  };

  it('limits an API key: the 6th request within the minute is 429 RATE_LIMITED, in the GraphQL shape', async () => {
    for (let i = 0; i < 5; i++) {
      const ok = await post(`{ me { id } }`, buyer.key);
      expect(ok.status).toBe(200);
      expect(ok.body.data.me.id).toBe(buyer.id);
    }
    const refused = await post(`{ me { id } }`, buyer.key);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ errors: [{ message: expect.stringMatching(/too many requests/i), extensions: { code: 'RATE_LIMITED' } }] });
    retryAfter(refused);
  });

  it('limits the key on REST too, in the REST shape', async () => {
    const res = await t.http().get('/v1/usage/report.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z').set('authorization', `Bearer ${buyer.key}`);
    expect(res.status).toBe(429);
    expect(res.body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/too many requests/i) } });
    retryAfter(res);
  });

  it('leaves another key unaffected', async () => {
    const res = await post(`{ me { id } }`, other.key);
    expect(res.status).toBe(200);
    expect(res.body.data.me.id).toBe(other.id);
    const csv = await t.http().get('/v1/usage/report.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z').set('authorization', `Bearer ${other.key}`);
    expect(csv.status).toBe(200);
  });

  it('limits anonymous requests by address, on GraphQL and on REST', async () => {
    // Two were spent registering; three more pass.
    for (let i = 0; i < 3; i++) expect((await post(`{ clock }`)).status).toBe(200);
    const refused = await post(`{ clock }`);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    retryAfter(refused);

    const rest = await t.http().post('/v1/usage').send({ events: [] });
    expect(rest.status).toBe(429);
    expect(rest.body.error.code).toBe('RATE_LIMITED');
    retryAfter(rest);

    // An unknown key counts as anonymous: guessing keys is limited by address as well.
    const guess = await post(`{ clock }`, 'ccx_not-a-real-key');
    expect(guess.status).toBe(429);
  });

  it('keeps keyed callers apart from the address they share', async () => {
    // The address is exhausted (previous test); a valid key still has its own bucket.
    expect((await post(`{ me { id } }`, other.key)).status).toBe(200);
  });

  it('does not limit the operator (the platform gateway that records all usage)', async () => {
    for (let i = 0; i < 8; i++) {
      const res = await t.http().post('/v1/usage').set('authorization', `Bearer ${OPERATOR_KEY}`).send({ events: [] });
      expect(res.status).toBe(400); // refused for its body, never for its rate
      expect(res.body.error.code).toBe('BAD_USER_INPUT');
    }
  });

  it('looks a key up once per request: the guard reuses what the limiter authenticated', async () => {
    const authenticator = t.app.get(ApiKeyAuthenticator);
    const original = authenticator.authenticate;
    let lookups = 0;
    authenticator.authenticate = (key: string) => {
      lookups += 1;
      return original.call(authenticator, key);
    };
    try {
      const res = await t.http().post('/v1/usage').set('authorization', `Bearer ${OPERATOR_KEY}`).send({ events: [] });
      expect(res.status).toBe(400);
      const gql = await t.gql(`{ me { role } }`, {}, OPERATOR_KEY);
      expect(gql.data).toEqual({ me: { role: 'OPERATOR' } });
      expect(lookups).toBe(2);
    } finally {
      authenticator.authenticate = original;
    }
  });

  it('never limits /health', async () => {
    for (let i = 0; i < 10; i++) expect((await t.http().get('/health')).status).toBe(200);
  });
});
