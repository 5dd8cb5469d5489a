import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { loadConfig } from '../apps/api/src/config/app-config.js';
import { startServer, type RunningServer } from '../apps/api/src/bootstrap.js';
import { ApiKeysService, MAX_ACTIVE_KEYS } from '../apps/api/src/organizations/api-keys.service.js';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { type Org, register, suspend } from './support/drivers/organizations.js';

/**
 * SPEC §12 "API keys" (issue 9 item 8): named keys — create (secret shown once), list (last 4
 * characters, last use, credits this month), revoke (next request refused, in every API process).
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const KEY_FIELDS = `id name lastFour monthlyCreditLimit creditsUsedThisMonth lastUsedAt revokedAt createdAt`;
const CREATE = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ${KEY_FIELDS} } } }`;
const LIST = `{ apiKeys { ${KEY_FIELDS} } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { ${KEY_FIELDS} } }`;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

async function create(org: Org, input: Record<string, unknown>): Promise<{ secret: string; apiKey: any }> {
  const res = await t.gql(CREATE, { input }, org.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createApiKey;
}
async function list(key: string): Promise<any[]> {
  const res = await t.gql(LIST, {}, key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.apiKeys;
}
async function keyCount(org: Org): Promise<number> {
  const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM api_keys WHERE organization_id = $1`, [org.id]);
  return n;
}
const meWith = async (key: string) => (await t.gql(`{ me { id } }`, {}, key)).data?.me?.id;
/** Waits for the last-use writes fired by earlier requests (they never delay a request). */
const settled = () => t.app.get(ApiKeysService).beforeApplicationShutdown();
const now = async (): Promise<string> => (await t.gql(`{ clock }`)).data.clock;

describe('the registration key', () => {
  it('is the first key, named "default", with the last 4 characters of the key registration returned', async () => {
    const buyer = await register(t, 'BUYER');
    const keys = await list(buyer.key);
    expect(keys).toEqual([
      {
        id: expect.any(String),
        name: 'default',
        lastFour: buyer.key.slice(-4),
        monthlyCreditLimit: null,
        creditsUsedThisMonth: '0.000000',
        // Set by this very request or not yet: the write never delays the request.
        lastUsedAt: keys[0]?.lastUsedAt,
        revokedAt: null,
        createdAt: CLOCK_START,
      },
    ]);
    const second = await create(buyer, { name: 'ci' });
    const after = await list(buyer.key);
    expect(after.map((k) => k.name)).toEqual(['ci', 'default']);
    expect(after[1]).toEqual({ ...keys[0], lastUsedAt: after[1].lastUsedAt });
    expect(after[0].id).toBe(second.apiKey.id);
  });

  it('the operator key is named "operator"; a key issued before names existed shows lastFour ""', async () => {
    const keys = await list(OPERATOR_KEY);
    expect(keys.map((k) => [k.name, k.lastFour])).toEqual([['operator', OPERATOR_KEY.slice(-4)]]);
    const buyer = await register(t, 'BUYER');
    await t.db.dataSource.query(`UPDATE api_keys SET last_four = NULL WHERE organization_id = $1`, [buyer.id]);
    expect((await list(buyer.key))[0].lastFour).toBe('');
  });
});

describe('createApiKey', () => {
  it('shows the secret once; it works as a Bearer key; the list shows lastFour, never the secret or its hash', async () => {
    const buyer = await register(t, 'BUYER');
    const { secret, apiKey } = await create(buyer, { name: '  production  ' });
    expect(secret).toMatch(/^ccx_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toEqual({
      id: expect.any(String),
      name: 'production',
      lastFour: secret.slice(-4),
      monthlyCreditLimit: null,
      creditsUsedThisMonth: '0.000000',
      lastUsedAt: null,
      revokedAt: null,
      createdAt: expect.any(String),
    });
    expect(await meWith(secret)).toBe(buyer.id);

    const listed = await t.http().post('/graphql').set('authorization', `Bearer ${buyer.key}`).send({ query: LIST });
    expect(listed.text).not.toContain(secret);
    expect(listed.text).not.toContain(secret.slice(4, 20));
    const [{ hash }] = await t.db.dataSource.query(`SELECT encode(key_hash, 'hex') AS hash FROM api_keys WHERE id = $1`, [apiKey.id]);
    expect(listed.text).not.toContain(hash);
    // The secret is not stored: no column of the row holds it.
    const [row] = await t.db.dataSource.query(`SELECT * FROM api_keys WHERE id = $1`, [apiKey.id]);
    expect(JSON.stringify(row)).not.toContain(secret);
    // There is no field to ask for it.
    const asked = await t.gql(`{ apiKeys { id secret } }`, {}, buyer.key);
    expect(asked.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('a monthly credit limit round-trips as a Decimal string with 6 decimals, and is what limitOf gives the gateway', async () => {
    const buyer = await register(t, 'BUYER');
    const { apiKey } = await create(buyer, { name: 'capped', monthlyCreditLimit: '250.5' });
    expect(apiKey.monthlyCreditLimit).toBe('250.500000');
    expect((await list(buyer.key)).find((k) => k.id === apiKey.id).monthlyCreditLimit).toBe('250.500000');
    const keys = t.app.get(ApiKeysService);
    expect((await keys.limitOf(apiKey.id))?.monthlyCreditLimit?.toFixed()).toBe('250.5');
    const [registration] = (await list(buyer.key)).filter((k) => k.name === 'default');
    expect(await keys.limitOf(registration.id)).toEqual({ monthlyCreditLimit: null });
    expect(await keys.limitOf(UNKNOWN_ID)).toBeNull();
    expect(await keys.limitOf('not-a-uuid')).toBeNull();
    const tiny = await create(buyer, { name: 'tiny', monthlyCreditLimit: '0.000001' });
    expect(tiny.apiKey.monthlyCreditLimit).toBe('0.000001');
    const explicitNull = await create(buyer, { name: 'unlimited', monthlyCreditLimit: null });
    expect(explicitNull.apiKey.monthlyCreditLimit).toBeNull();
  });

  it('a bad limit or name is BAD_USER_INPUT and creates nothing', async () => {
    const buyer = await register(t, 'BUYER');
    const before = await keyCount(buyer);
    const bad: Record<string, unknown>[] = [
      { name: 'x', monthlyCreditLimit: '0' },
      { name: 'x', monthlyCreditLimit: '-1' },
      { name: 'x', monthlyCreditLimit: '1e3' },
      { name: 'x', monthlyCreditLimit: 1000 },
      { name: 'x', monthlyCreditLimit: '1.1234567' },
      { name: 'x', monthlyCreditLimit: 'NaN' },
      { name: 'x', monthlyCreditLimit: '10000000000000000' },
      { name: '' },
      { name: '   ' },
      { name: 'n'.repeat(101) },
      { name: 'nul\u0000' },
    ];
    for (const input of bad) {
      const res = await t.gql(CREATE, { input }, buyer.key);
      expect({ input, code: res.code, data: res.data?.createApiKey ?? null }).toEqual({ input, code: 'BAD_USER_INPUT', data: null });
    }
    // The same as literals in the query text.
    for (const literal of [`"0"`, `1000`, `"1e3"`]) {
      const res = await t.gql(`mutation { createApiKey(input: { name: "x", monthlyCreditLimit: ${literal} }) { secret } }`, {}, buyer.key);
      expect({ literal, code: res.code }).toEqual({ literal, code: 'BAD_USER_INPUT' });
    }
    expect(await keyCount(buyer)).toBe(before);
    expect((await create(buyer, { name: 'n'.repeat(100) })).apiKey.name).toHaveLength(100);
  });

  it(`an organization holds at most ${MAX_ACTIVE_KEYS} active keys; revoking one makes room`, async () => {
    const buyer = await register(t, 'BUYER');
    for (let i = 1; i < MAX_ACTIVE_KEYS; i++) await create(buyer, { name: `k${i}` });
    const refused = await t.gql(CREATE, { input: { name: 'one too many' } }, buyer.key);
    expect(refused.code).toBe('INVALID_STATE');
    expect(await keyCount(buyer)).toBe(MAX_ACTIVE_KEYS);
    const [newest] = await list(buyer.key);
    expect((await t.gql(REVOKE, { id: newest.id }, buyer.key)).errors).toBeUndefined();
    expect((await create(buyer, { name: 'room again' })).apiKey.name).toBe('room again');
  });

  it('the operator may make keys, but not one named "operator" (the name of the key CCX_OPERATOR_KEY rotates)', async () => {
    const refused = await t.gql(CREATE, { input: { name: 'operator' } }, OPERATOR_KEY);
    expect(refused.code).toBe('BAD_USER_INPUT');
    const made = await t.gql(CREATE, { input: { name: 'metering' } }, OPERATOR_KEY);
    expect(made.errors).toBeUndefined();
    expect((await t.gql(`{ me { role } }`, {}, made.data.createApiKey.secret)).data.me.role).toBe('OPERATOR');
  });

  it('a suspended organization can list its keys but not create or revoke them', async () => {
    const buyer = await register(t, 'BUYER');
    const { apiKey } = await create(buyer, { name: 'spare' });
    await suspend(t, buyer);
    expect((await list(buyer.key)).map((k) => k.name)).toEqual(['spare', 'default']);
    expect((await t.gql(CREATE, { input: { name: 'more' } }, buyer.key)).code).toBe('FORBIDDEN');
    expect((await t.gql(REVOKE, { id: apiKey.id }, buyer.key)).code).toBe('FORBIDDEN');
    expect(await keyCount(buyer)).toBe(2);
  });
});

describe('revokeApiKey', () => {
  it('the next request with the revoked key is UNAUTHENTICATED; revoking it again returns it unchanged', async () => {
    const buyer = await register(t, 'BUYER');
    const { secret, apiKey } = await create(buyer, { name: 'laptop' });
    expect(await meWith(secret)).toBe(buyer.id);
    const revoked = await t.gql(REVOKE, { id: apiKey.id }, buyer.key);
    expect(revoked.errors).toBeUndefined();
    expect(revoked.data.revokeApiKey).toMatchObject({ id: apiKey.id, name: 'laptop', revokedAt: await now() });
    const next = await t.gql(`{ me { id } }`, {}, secret);
    expect(next.code).toBe('UNAUTHENTICATED');
    expect(next.data).toBeNull();
    expect((await t.http().post('/v1/usage').set('authorization', `Bearer ${secret}`).send({ events: [] })).status).toBe(401);

    const again = await t.gql(REVOKE, { id: apiKey.id }, buyer.key);
    expect(again.data.revokeApiKey).toEqual(revoked.data.revokeApiKey);
    // Revoked keys stay in the list; the registration key still works.
    expect((await list(buyer.key)).map((k) => [k.name, k.revokedAt !== null])).toEqual([
      ['laptop', true],
      ['default', false],
    ]);
  });

  it("a key may revoke itself; another organization's key, or an unknown id, is NOT_FOUND and stays usable", async () => {
    const buyer = await register(t, 'BUYER');
    const other = await register(t, 'BUYER');
    const { apiKey: otherKey, secret: otherSecret } = await create(other, { name: 'theirs' });
    for (const id of [otherKey.id, UNKNOWN_ID, 'not-an-id']) {
      const res = await t.gql(REVOKE, { id }, buyer.key);
      expect({ id, code: res.code, data: res.data }).toEqual({ id, code: 'NOT_FOUND', data: null });
    }
    // The operator does not manage other organizations' keys either.
    expect((await t.gql(REVOKE, { id: otherKey.id }, OPERATOR_KEY)).code).toBe('NOT_FOUND');
    expect(await meWith(otherSecret)).toBe(other.id);
    const [{ revoked_at }] = await t.db.dataSource.query(`SELECT revoked_at FROM api_keys WHERE id = $1`, [otherKey.id]);
    expect(revoked_at).toBeNull();

    const { secret } = await create(buyer, { name: 'self' });
    const [self] = await list(secret);
    expect((await t.gql(REVOKE, { id: self.id }, secret)).data.revokeApiKey.revokedAt).not.toBeNull();
    expect((await t.gql(`{ me { id } }`, {}, secret)).code).toBe('UNAUTHENTICATED');
  });

  it('the last active key cannot be revoked (INVALID_STATE), so an organization cannot lock itself out', async () => {
    const buyer = await register(t, 'BUYER');
    const [registration] = await list(buyer.key);
    const refused = await t.gql(REVOKE, { id: registration.id }, buyer.key);
    expect(refused.code).toBe('INVALID_STATE');
    expect(refused.data).toBeNull();
    expect(await meWith(buyer.key)).toBe(buyer.id);

    const { secret, apiKey } = await create(buyer, { name: 'replacement' });
    expect((await t.gql(REVOKE, { id: registration.id }, secret)).errors).toBeUndefined();
    expect((await t.gql(REVOKE, { id: apiKey.id }, secret)).code).toBe('INVALID_STATE');
    expect(await meWith(secret)).toBe(buyer.id);
  });

  it('two concurrent revocations of the last two keys: exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const buyer = await register(t, 'BUYER');
      const { secret, apiKey } = await create(buyer, { name: 'second' });
      const [registration] = (await list(buyer.key)).filter((k) => k.name === 'default');
      const results = await Promise.all([t.gql(REVOKE, { id: registration.id }, buyer.key), t.gql(REVOKE, { id: apiKey.id }, secret)]);
      expect(results.map((r) => r.code ?? 'ok').sort()).toEqual(['INVALID_STATE', 'ok']);
      const [{ active }] = await t.db.dataSource.query(
        `SELECT count(*)::int AS active FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL`,
        [buyer.id],
      );
      expect(active).toBe(1);
    }
  });

  it('the key configured by CCX_OPERATOR_KEY cannot be revoked through the API (a restart would restore it)', async () => {
    const [configured] = (await list(OPERATOR_KEY)).filter((k) => k.name === 'operator');
    const res = await t.gql(REVOKE, { id: configured.id }, OPERATOR_KEY);
    expect(res.code).toBe('INVALID_STATE');
    expect(res.errors?.[0].message).toMatch(/CCX_OPERATOR_KEY/);
  });
});

describe('lastUsedAt and creditsUsedThisMonth', () => {
  it('lastUsedAt is the business clock of the last use, written at most once a minute per key', async () => {
    const buyer = await register(t, 'BUYER');
    const { secret, apiKey } = await create(buyer, { name: 'used' });
    expect(apiKey.lastUsedAt).toBeNull();
    const start = Date.parse(await now());
    const lastUsed = async () => {
      await settled();
      return (await list(buyer.key)).find((k) => k.id === apiKey.id).lastUsedAt;
    };
    expect(await lastUsed()).toBeNull();

    await meWith(secret);
    expect(await lastUsed()).toBe(new Date(start).toISOString());

    const advance = async (ms: number) => {
      const to = new Date(start + ms).toISOString();
      const res = await t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to }, OPERATOR_KEY);
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      return to;
    };
    await advance(30_000);
    await meWith(secret);
    expect(await lastUsed()).toBe(new Date(start).toISOString());

    const later = await advance(60_000);
    await Promise.all([meWith(secret), meWith(secret), meWith(secret)]);
    expect(await lastUsed()).toBe(later);
    // A revoked key is refused before anything is recorded.
    await t.gql(REVOKE, { id: apiKey.id }, buyer.key);
    await advance(200_000);
    await meWith(secret);
    expect(await lastUsed()).toBe(later);
  });

  it("creditsUsedThisMonth reads api_key_usage for the business clock's UTC month (0 without a row)", async () => {
    const buyer = await register(t, 'BUYER');
    const { apiKey } = await create(buyer, { name: 'metered', monthlyCreditLimit: '1000' });
    const clock = new Date(await now());
    const month = `${clock.getUTCFullYear()}-${String(clock.getUTCMonth() + 1).padStart(2, '0')}-01`;
    const previous = new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);
    const next = new Date(Date.UTC(clock.getUTCFullYear(), clock.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    const usedOf = async () => (await list(buyer.key)).find((k) => k.id === apiKey.id).creditsUsedThisMonth;
    expect(await usedOf()).toBe('0.000000');
    await t.db.dataSource.query(`INSERT INTO api_key_usage (api_key_id, month, credits) VALUES ($1, $2, '999'), ($1, $3, '7')`, [apiKey.id, previous, next]);
    expect(await usedOf()).toBe('0.000000');
    await t.db.dataSource.query(`INSERT INTO api_key_usage (api_key_id, month, credits) VALUES ($1, $2, '12.345678')`, [apiKey.id, month]);
    expect(await usedOf()).toBe('12.345678');
    // Another key's usage is its own.
    const [registration] = (await list(buyer.key)).filter((k) => k.name === 'default');
    expect(registration.creditsUsedThisMonth).toBe('0.000000');
    // The revoke answer carries it too.
    expect((await t.gql(REVOKE, { id: apiKey.id }, buyer.key)).data.revokeApiKey.creditsUsedThisMonth).toBe('12.345678');
  });
});

describe('two API processes on one database', () => {
  let second: RunningServer;
  beforeAll(async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: t.db.url,
      CCX_OPERATOR_KEY: OPERATOR_KEY,
      CCX_TEST_CLOCK: 'true',
      CCX_CLOCK_START: CLOCK_START,
      CCX_SERVICING_INTERVAL_MS: '0',
      CCX_WEBHOOK_INTERVAL_MS: '0',
    });
    second = await startServer(config, { listen: false, schemaFile: join(await mkdtemp(join(tmpdir(), 'ccx-schema-')), 'schema.gql') });
  });
  afterAll(async () => {
    await second?.close();
  });
  const meOnSecond = async (key: string) => {
    const res = await request(second.app.getHttpServer()).post('/graphql').set('authorization', `Bearer ${key}`).send({ query: '{ me { id } }' });
    return { id: res.body.data?.me?.id, code: res.body.errors?.[0]?.extensions?.code };
  };

  it('a key revoked through one process is refused by the very next request to the other', async () => {
    const buyer = await register(t, 'BUYER');
    const { secret, apiKey } = await create(buyer, { name: 'shared' });
    // Warm both processes with the key first: nothing they might remember may keep it alive.
    expect(await meOnSecond(secret)).toEqual({ id: buyer.id, code: undefined });
    expect(await meWith(secret)).toBe(buyer.id);
    expect((await t.gql(REVOKE, { id: apiKey.id }, buyer.key)).errors).toBeUndefined();
    expect(await meOnSecond(secret)).toEqual({ id: undefined, code: 'UNAUTHENTICATED' });
    expect((await request(second.app.getHttpServer()).post('/v1/usage').set('authorization', `Bearer ${secret}`).send({ events: [] })).status).toBe(401);
    // And the other way round: revoked through the second, refused by the first.
    const { secret: other, apiKey: otherKey } = await create(buyer, { name: 'shared-2' });
    expect(await meWith(other)).toBe(buyer.id);
    const revoked = await request(second.app.getHttpServer())
      .post('/graphql')
      .set('authorization', `Bearer ${buyer.key}`)
      .send({ query: REVOKE, variables: { id: otherKey.id } });
    expect(revoked.body.errors).toBeUndefined();
    expect((await t.gql(`{ me { id } }`, {}, other)).code).toBe('UNAUTHENTICATED');
  });

  it("a restart with CCX_OPERATOR_KEY keeps the operator's own named keys", async () => {
    // The second process ran the operator bootstrap after earlier tests made an operator key.
    const named = (await list(OPERATOR_KEY)).filter((k) => k.name !== 'operator');
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((k) => k.revokedAt === null)).toBe(true);
  });
});
