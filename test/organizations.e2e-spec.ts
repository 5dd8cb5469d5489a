import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { loadConfig } from '../apps/api/src/config/app-config.js';
import { startServer, type RunningServer } from '../apps/api/src/bootstrap.js';
import { CLOCK_START, OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createListing } from './support/drivers/listings.js';
import { creditsOf } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { approve, operatorId, type Org, register, registerPending, suspend } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';

/**
 * SPEC §2 (organizations, keys, statuses), §3 (wallets and deposits), §1 (amount input rules)
 * and the catalog of GPU types and model rate cards, through the public GraphQL API.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const REGISTER = `mutation($input: RegisterOrganizationInput!) {
  registerOrganization(input: $input) { apiKey organization { id name role status createdAt } }
}`;
const ME = `{ me { id name role status createdAt } }`;
const APPROVE = `mutation($id: ID!) { approveOrganization(id: $id) { id status } }`;
const SUSPEND = `mutation($id: ID!) { suspendOrganization(id: $id) { id status } }`;
const DEPOSIT = `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { currency available } }`;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

async function orgCount(): Promise<number> {
  const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM organizations`);
  return n;
}

async function statusOf(id: string): Promise<string> {
  const [row] = await t.db.dataSource.query(`SELECT status FROM organizations WHERE id = $1`, [id]);
  return row.status;
}

describe('registerOrganization', () => {
  it('is public: a BUYER starts ACTIVE, a SELLER and a LENDER start PENDING', async () => {
    const expected = { BUYER: 'ACTIVE', SELLER: 'PENDING', LENDER: 'PENDING' } as const;
    for (const role of ['BUYER', 'SELLER', 'LENDER'] as const) {
      const res = await t.gql(REGISTER, { input: { name: `Acme ${role}`, role } });
      expect(res.errors).toBeUndefined();
      const { organization, apiKey } = res.data.registerOrganization;
      expect(organization).toEqual({ id: expect.any(String), name: `Acme ${role}`, role, status: expected[role], createdAt: CLOCK_START });
      expect(typeof apiKey).toBe('string');
      expect(apiKey.length).toBeGreaterThanOrEqual(32);
      expect(await statusOf(organization.id)).toBe(expected[role]);
    }
  });

  it('refuses to register an OPERATOR (FORBIDDEN) and creates nothing', async () => {
    const before = await orgCount();
    const res = await t.gql(REGISTER, { input: { name: 'Evil operator', role: 'OPERATOR' } });
    expect(res.code).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM organizations WHERE role = 'OPERATOR'`);
    expect(n).toBe(1);
    expect(await orgCount()).toBe(before);
  });

  it.each([
    ['empty', ''],
    ['whitespace only', '   \t  '],
    ['201 characters', 'x'.repeat(201)],
  ])('refuses a name that is %s (BAD_USER_INPUT) and creates nothing', async (_label, name) => {
    const before = await orgCount();
    const res = await t.gql(REGISTER, { input: { name, role: 'BUYER' } });
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(await orgCount()).toBe(before);
  });

  it('accepts a name of exactly 200 characters', async () => {
    const res = await t.gql(REGISTER, { input: { name: 'y'.repeat(200), role: 'BUYER' } });
    expect(res.errors).toBeUndefined();
    expect(res.data.registerOrganization.organization.name).toBe('y'.repeat(200));
  });

  it('refuses an unknown role as a GraphQL validation error and creates nothing', async () => {
    const before = await orgCount();
    const literal = await t.gql(`mutation { registerOrganization(input: { name: "x", role: ADMIN }) { apiKey } }`);
    expect(literal.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(literal.data).toBeNull();
    const variable = await t.gql(REGISTER, { input: { name: 'x', role: 'ADMIN' } });
    expect(variable.errors).toBeDefined();
    expect(['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']).toContain(variable.code);
    expect(variable.data).toBeNull();
    expect(await orgCount()).toBe(before);
  });

  it('returns an API key that works as Bearer for `me`, which answers that organization', async () => {
    const a = await t.gql(REGISTER, { input: { name: 'Key Test A', role: 'SELLER' } });
    const b = await t.gql(REGISTER, { input: { name: 'Key Test B', role: 'BUYER' } });
    const keyA = a.data.registerOrganization.apiKey;
    const keyB = b.data.registerOrganization.apiKey;
    expect(keyA).not.toBe(keyB);
    const meA = await t.gql(ME, {}, keyA);
    expect(meA.errors).toBeUndefined();
    expect(meA.data.me).toEqual(a.data.registerOrganization.organization);
    const meB = await t.gql(ME, {}, keyB);
    expect(meB.data.me).toEqual(b.data.registerOrganization.organization);
    expect((await t.gql(ME)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(ME, {}, `${keyA}x`)).code).toBe('UNAUTHENTICATED');
  });

  it('stores API keys only as SHA-256 hashes: no column of any table holds the plaintext key', async () => {
    const keys: { id: string; key: string }[] = [];
    for (const role of ['BUYER', 'SELLER'] as const) {
      const res = await t.gql(REGISTER, { input: { name: `Hash ${role}`, role } });
      keys.push({ id: res.data.registerOrganization.organization.id, key: res.data.registerOrganization.apiKey });
    }
    for (const { id, key } of keys) {
      const rows = await t.db.dataSource.query(`SELECT encode(key_hash, 'hex') AS hash FROM api_keys WHERE organization_id = $1`, [id]);
      expect(rows).toEqual([{ hash: sha256Hex(key) }]);
    }
    // Every row of every table, as text (bytea shows as hex): neither the key nor its bytes appear.
    const tables: { name: string }[] = await t.db.dataSource.query(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    expect(tables.map((x) => x.name)).toContain('api_keys');
    for (const { name } of tables) {
      for (const { key } of [...keys, { key: OPERATOR_KEY }]) {
        const needles = [key, Buffer.from(key, 'utf8').toString('hex')];
        for (const needle of needles) {
          const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM "${name}" r WHERE strpos(r::text, $1) > 0`, [needle]);
          expect({ table: name, found: n }).toEqual({ table: name, found: 0 });
        }
      }
    }
    // The operator key is stored the same way.
    const op = await operatorId(t);
    const opRows = await t.db.dataSource.query(`SELECT encode(key_hash, 'hex') AS hash FROM api_keys WHERE organization_id = $1`, [op]);
    expect(opRows).toEqual([{ hash: sha256Hex(OPERATOR_KEY) }]);
  });
});

describe('approveOrganization and suspendOrganization', () => {
  it('PENDING → ACTIVE → SUSPENDED → ACTIVE again, seen by the organization itself', async () => {
    const seller = await registerPending(t, 'SELLER');
    expect((await t.gql(ME, {}, seller.key)).data.me.status).toBe('PENDING');

    const approved = await t.gql(APPROVE, { id: seller.id }, OPERATOR_KEY);
    expect(approved.errors).toBeUndefined();
    expect(approved.data.approveOrganization).toEqual({ id: seller.id, status: 'ACTIVE' });
    expect((await t.gql(ME, {}, seller.key)).data.me.status).toBe('ACTIVE');

    const suspended = await t.gql(SUSPEND, { id: seller.id }, OPERATOR_KEY);
    expect(suspended.errors).toBeUndefined();
    expect(suspended.data.suspendOrganization).toEqual({ id: seller.id, status: 'SUSPENDED' });
    expect((await t.gql(ME, {}, seller.key)).data.me.status).toBe('SUSPENDED');
    expect(await statusOf(seller.id)).toBe('SUSPENDED');

    const again = await t.gql(APPROVE, { id: seller.id }, OPERATOR_KEY);
    expect(again.errors).toBeUndefined();
    expect(again.data.approveOrganization).toEqual({ id: seller.id, status: 'ACTIVE' });
    expect(await statusOf(seller.id)).toBe('ACTIVE');
  });

  it('a LENDER is approved the same way; an ACTIVE buyer can be suspended', async () => {
    const lender = await registerPending(t, 'LENDER');
    expect((await t.gql(APPROVE, { id: lender.id }, OPERATOR_KEY)).data.approveOrganization.status).toBe('ACTIVE');
    const buyer = await register(t, 'BUYER');
    expect((await t.gql(SUSPEND, { id: buyer.id }, OPERATOR_KEY)).data.suspendOrganization.status).toBe('SUSPENDED');
    expect((await t.gql(ME, {}, buyer.key)).data.me.status).toBe('SUSPENDED');
  });

  it.each([
    ['unknown', UNKNOWN_ID],
    ['malformed', 'not-a-uuid'],
    ['empty', ''],
  ])('answers NOT_FOUND for an id that is %s', async (_label, id) => {
    expect((await t.gql(APPROVE, { id }, OPERATOR_KEY)).code).toBe('NOT_FOUND');
    expect((await t.gql(SUSPEND, { id }, OPERATOR_KEY)).code).toBe('NOT_FOUND');
  });

  it('the operator organization cannot be suspended (INVALID_STATE) and keeps working', async () => {
    const id = await operatorId(t);
    const res = await t.gql(SUSPEND, { id }, OPERATOR_KEY);
    expect(res.code).toBe('INVALID_STATE');
    expect(res.data).toBeNull();
    expect(await statusOf(id)).toBe('ACTIVE');
    const me = await t.gql(ME, {}, OPERATOR_KEY);
    expect(me.data.me).toMatchObject({ id, role: 'OPERATOR', status: 'ACTIVE' });
    const seller = await registerPending(t, 'SELLER');
    expect((await t.gql(APPROVE, { id: seller.id }, OPERATOR_KEY)).data.approveOrganization.status).toBe('ACTIVE');
  });

  it('only the operator may approve or suspend', async () => {
    const pending = await registerPending(t, 'SELLER');
    const buyer = await register(t, 'BUYER');
    const seller = await register(t, 'SELLER');
    for (const key of [buyer.key, seller.key, pending.key]) {
      expect((await t.gql(APPROVE, { id: pending.id }, key)).code).toBe('FORBIDDEN');
      expect((await t.gql(SUSPEND, { id: buyer.id }, key)).code).toBe('FORBIDDEN');
    }
    expect((await t.gql(APPROVE, { id: pending.id })).code).toBe('UNAUTHENTICATED');
    expect(await statusOf(pending.id)).toBe('PENDING');
    expect(await statusOf(buyer.id)).toBe('ACTIVE');
  });
});

describe('PENDING and SUSPENDED organizations can read but not act', () => {
  it('a PENDING seller reads `me` and `wallet` but cannot create a listing (FORBIDDEN)', async () => {
    const seller = await registerPending(t, 'SELLER');
    const read = await t.gql(`{ me { id status } wallet { currency available } }`, {}, seller.key);
    expect(read.errors).toBeUndefined();
    expect(read.data).toEqual({ me: { id: seller.id, status: 'PENDING' }, wallet: { currency: 'USD', available: '0.00' } });

    const countBefore = (await t.gql(`{ listings { totalCount } }`)).data.listings.totalCount;
    const res = await t.gql(
      `mutation { createListing(input: { gpuType: "H100", region: "us-east", gpuHours: "10", wholesalePricePerGpuHour: "1.50",
        availableFrom: "2026-01-01T00:00:00Z", availableUntil: "2027-01-01T00:00:00Z" }) { id } }`,
      {},
      seller.key,
    );
    expect(res.code).toBe('FORBIDDEN');
    expect((await t.gql(`{ listings { totalCount } }`)).data.listings.totalCount).toBe(countBefore);
    const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM listings WHERE seller_id = $1`, [seller.id]);
    expect(n).toBe(0);

    // Once approved, the same request goes through: it was the status that refused it.
    await approve(t, seller);
    const listing = await createListing(t, seller, { gpuHours: '10', wholesalePricePerGpuHour: '1.50' });
    expect(listing.status).toBe('OPEN');
  });

  it('a SUSPENDED buyer reads `me`, `wallet` and credits but cannot purchase or reserve, and nothing changes', async () => {
    const seller = await register(t, 'SELLER');
    await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.00' });
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '500.00');
    await suspend(t, buyer);

    const read = await t.gql(`{ me { id status } wallet { available } creditBalance { available } }`, {}, buyer.key);
    expect(read.errors).toBeUndefined();
    expect(read.data).toEqual({ me: { id: buyer.id, status: 'SUSPENDED' }, wallet: { available: '500.00' }, creditBalance: { available: '0.000000' } });

    const sellerWallet = await walletOf(t, seller);
    const credits = await creditsOf(t, buyer);
    const [{ n: purchasesBefore }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM purchases`);
    const bought = await t.gql(`mutation { purchaseCredits(input: { credits: "10", idempotencyKey: "suspended-1" }) { id } }`, {}, buyer.key);
    expect(bought.code).toBe('FORBIDDEN');
    expect(bought.data).toBeNull();
    const reserved = await t.gql(`mutation { reserveCredits(input: { creditsPerMonth: "10", termMonths: 3, idempotencyKey: "suspended-2" }) { id } }`, {}, buyer.key);
    expect(reserved.code).toBe('FORBIDDEN');

    expect(await walletOf(t, buyer)).toBe('500.00');
    expect(await walletOf(t, seller)).toBe(sellerWallet);
    expect(await creditsOf(t, buyer)).toEqual(credits);
    const [{ n: purchasesAfter }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM purchases`);
    expect(purchasesAfter).toBe(purchasesBefore);
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });

    // Re-approved, the same purchase goes through: it was the status that refused it.
    await approve(t, buyer);
    const ok = await t.gql(`mutation { purchaseCredits(input: { credits: "10", idempotencyKey: "suspended-1" }) { credits } }`, {}, buyer.key);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.purchaseCredits.credits).toBe('10.000000');
    expect(await walletOf(t, buyer)).not.toBe('500.00');
  });
});

describe('wallets and recordDeposit', () => {
  let buyer: Org;
  beforeAll(async () => {
    buyer = await register(t, 'BUYER');
  });

  it('a new organization has an empty USD wallet; a deposit increases it exactly', async () => {
    expect(await walletOf(t, buyer)).toBe('0.00');
    const res = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '250.00', reference: 'wire-0001' } }, OPERATOR_KEY);
    expect(res.errors).toBeUndefined();
    expect(res.data.recordDeposit).toEqual({ currency: 'USD', available: '250.00' });
    expect(await walletOf(t, buyer)).toBe('250.00');
    const more = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '0.01', reference: 'wire-0002' } }, OPERATOR_KEY);
    expect(more.data.recordDeposit.available).toBe('250.01');
    const whole = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '1000', reference: 'wire-0003' } }, OPERATOR_KEY);
    expect(whole.data.recordDeposit.available).toBe('1250.01');
    expect(await walletOf(t, buyer)).toBe('1250.01');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('the same reference with the same organization and amount is applied once, without an error', async () => {
    const before = await walletOf(t, buyer);
    const input = { organizationId: buyer.id, amount: '40.00', reference: 'card-repeat-1' };
    const first = await t.gql(DEPOSIT, { input }, OPERATOR_KEY);
    expect(first.errors).toBeUndefined();
    const after = (Number(before) + 40).toFixed(2);
    expect(first.data.recordDeposit.available).toBe(after);
    const second = await t.gql(DEPOSIT, { input }, OPERATOR_KEY);
    expect(second.errors).toBeUndefined();
    expect(second.data.recordDeposit.available).toBe(after);
    expect(await walletOf(t, buyer)).toBe(after);
    // The same amount written differently is the same request.
    const third = await t.gql(DEPOSIT, { input: { ...input, amount: '40' } }, OPERATOR_KEY);
    expect(third.errors).toBeUndefined();
    expect(await walletOf(t, buyer)).toBe(after);
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('accepts references up to 200 characters, each applied once', async () => {
    const target = await register(t, 'BUYER');
    for (const [i, length] of [1, 150, 192, 193, 199, 200].entries()) {
      const reference = `${i}`.padEnd(length, 'r');
      const input = { organizationId: target.id, amount: '1.00', reference };
      const first = await t.gql(DEPOSIT, { input }, OPERATOR_KEY);
      expect({ length, errors: first.errors }).toEqual({ length, errors: undefined });
      expect(first.data.recordDeposit.available).toBe(`${i + 1}.00`);
      const again = await t.gql(DEPOSIT, { input }, OPERATOR_KEY);
      expect(again.data.recordDeposit.available).toBe(`${i + 1}.00`);
      expect((await t.gql(DEPOSIT, { input: { ...input, amount: '2.00' } }, OPERATOR_KEY)).code).toBe('IDEMPOTENCY_CONFLICT');
    }
    const tooLong = await t.gql(DEPOSIT, { input: { organizationId: target.id, amount: '1.00', reference: 'z'.repeat(201) } }, OPERATOR_KEY);
    expect(tooLong.code).toBe('BAD_USER_INPUT');
    expect(await walletOf(t, target)).toBe('6.00');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('the same reference sent concurrently is applied once', async () => {
    const target = await register(t, 'BUYER');
    const input = { organizationId: target.id, amount: '75.50', reference: 'card-race-1' };
    const results = await Promise.all(Array.from({ length: 6 }, () => t.gql(DEPOSIT, { input }, OPERATOR_KEY)));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(await walletOf(t, target)).toBe('75.50');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  it('the same reference with a different amount or organization is IDEMPOTENCY_CONFLICT and changes nothing', async () => {
    const other = await register(t, 'BUYER');
    await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '10.00', reference: 'wire-conflict' } }, OPERATOR_KEY);
    const mine = await walletOf(t, buyer);
    const theirs = await walletOf(t, other);

    const amount = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '11.00', reference: 'wire-conflict' } }, OPERATOR_KEY);
    expect(amount.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(amount.data).toBeNull();
    const org = await t.gql(DEPOSIT, { input: { organizationId: other.id, amount: '10.00', reference: 'wire-conflict' } }, OPERATOR_KEY);
    expect(org.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(org.data).toBeNull();

    expect(await walletOf(t, buyer)).toBe(mine);
    expect(await walletOf(t, other)).toBe(theirs);
    expect(theirs).toBe('0.00');
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });

  const BAD_AMOUNTS: [string, unknown][] = [
    ['negative', '-1'],
    ['zero', '0'],
    ['zero with decimals', '0.00'],
    ['three decimals', '1.001'],
    ['exponent notation', '1e3'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['non-numeric', 'abc'],
    ['empty', ''],
    ['a JSON number', 12.5],
    ['a JSON integer', 12],
    ['huge', `1${'0'.repeat(20)}`],
    ['leading plus', '+5'],
    ['padded', ' 5 '],
  ];

  it.each(BAD_AMOUNTS)('refuses amount: %s (BAD_USER_INPUT) and the wallet is unchanged', async (_label, amount) => {
    const before = await walletOf(t, buyer);
    const res = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount, reference: `bad-${String(_label)}` } }, OPERATOR_KEY);
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
    expect(await walletOf(t, buyer)).toBe(before);
    // The reference was not consumed: a valid deposit with it is applied.
    const ok = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '1.00', reference: `bad-${String(_label)}` } }, OPERATOR_KEY);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.recordDeposit.available).toBe((Number(before) + 1).toFixed(2));
  });

  it('refuses a number literal in the query itself (BAD_USER_INPUT)', async () => {
    const before = await walletOf(t, buyer);
    const res = await t.gql(`mutation { recordDeposit(input: { organizationId: "${buyer.id}", amount: 12.5, reference: "literal-num" }) { available } }`, {}, OPERATOR_KEY);
    expect(res.code).toBe('BAD_USER_INPUT');
    const exp = await t.gql(`mutation { recordDeposit(input: { organizationId: "${buyer.id}", amount: "1e3", reference: "literal-exp" }) { available } }`, {}, OPERATOR_KEY);
    expect(exp.code).toBe('BAD_USER_INPUT');
    expect(await walletOf(t, buyer)).toBe(before);
  });

  it('refuses an empty reference (BAD_USER_INPUT)', async () => {
    const before = await walletOf(t, buyer);
    const res = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '5.00', reference: '  ' } }, OPERATOR_KEY);
    expect(res.code).toBe('BAD_USER_INPUT');
    expect(await walletOf(t, buyer)).toBe(before);
  });

  it('answers NOT_FOUND for an unknown or malformed organization, and nothing moves', async () => {
    const integrityBefore = await t.gql(`{ ledgerIntegrity { transactionsChecked } }`, {}, OPERATOR_KEY);
    const unknown = await t.gql(DEPOSIT, { input: { organizationId: UNKNOWN_ID, amount: '5.00', reference: 'nobody-1' } }, OPERATOR_KEY);
    expect(unknown.code).toBe('NOT_FOUND');
    const malformed = await t.gql(DEPOSIT, { input: { organizationId: 'nope', amount: '5.00', reference: 'nobody-2' } }, OPERATOR_KEY);
    expect(malformed.code).toBe('NOT_FOUND');
    const integrityAfter = await t.gql(`{ ledgerIntegrity { transactionsChecked } }`, {}, OPERATOR_KEY);
    expect(integrityAfter.data.ledgerIntegrity.transactionsChecked).toBe(integrityBefore.data.ledgerIntegrity.transactionsChecked);
  });

  it('only the operator records deposits', async () => {
    const seller = await register(t, 'SELLER');
    const before = await walletOf(t, buyer);
    for (const key of [buyer.key, seller.key]) {
      const res = await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '5.00', reference: `self-${key.slice(-6)}` } }, key);
      expect(res.code).toBe('FORBIDDEN');
    }
    expect((await t.gql(DEPOSIT, { input: { organizationId: buyer.id, amount: '5.00', reference: 'anon' } })).code).toBe('UNAUTHENTICATED');
    expect(await walletOf(t, buyer)).toBe(before);
  });
});

describe('catalog', () => {
  const GPU_TYPES = `{ gpuTypes { name creditsPerGpuHour } }`;
  const UPSERT_GPU = `mutation($input: GpuTypeInput!) { upsertGpuType(input: $input) { name creditsPerGpuHour } }`;
  const MODELS = `{ models { id inputCreditsPerMillionTokens outputCreditsPerMillionTokens } }`;
  const UPSERT_MODEL = `mutation($input: ModelInput!) { upsertModel(input: $input) { id inputCreditsPerMillionTokens outputCreditsPerMillionTokens } }`;

  async function gpuTypes(): Promise<Record<string, string>> {
    const res = await t.gql(GPU_TYPES);
    expect(res.errors).toBeUndefined();
    return Object.fromEntries(res.data.gpuTypes.map((g: { name: string; creditsPerGpuHour: string }) => [g.name, g.creditsPerGpuHour]));
  }
  async function models(): Promise<Record<string, [string, string]>> {
    const res = await t.gql(MODELS);
    expect(res.errors).toBeUndefined();
    return Object.fromEntries(
      res.data.models.map((m: { id: string; inputCreditsPerMillionTokens: string; outputCreditsPerMillionTokens: string }) => [
        m.id,
        [m.inputCreditsPerMillionTokens, m.outputCreditsPerMillionTokens],
      ]),
    );
  }
  const numeric = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v)]));

  it('gpuTypes is public and lists exactly the default catalog of SPEC §1', async () => {
    const res = await t.gql(GPU_TYPES);
    expect(res.errors).toBeUndefined();
    for (const g of res.data.gpuTypes) expect(typeof g.creditsPerGpuHour).toBe('string');
    expect(numeric(await gpuTypes())).toEqual({ H100: 1, H200: 1.4, B200: 2.2, A100: 0.5, L40S: 0.35 });
    expect(res.data.gpuTypes).toHaveLength(5);
  });

  it('the operator adds a GPU type and changes it; the list shows the change without duplicates', async () => {
    const added = await t.gql(UPSERT_GPU, { input: { name: 'MI300X', creditsPerGpuHour: '1.25' } }, OPERATOR_KEY);
    expect(added.errors).toBeUndefined();
    expect(added.data.upsertGpuType.name).toBe('MI300X');
    expect(Number(added.data.upsertGpuType.creditsPerGpuHour)).toBe(1.25);
    expect(Number((await gpuTypes()).MI300X)).toBe(1.25);

    // A listing made now is valued with this figure, and keeps it when the figure changes.
    const seller = await register(t, 'SELLER');
    const before = await createListing(t, seller, { gpuType: 'MI300X', gpuHours: '100', wholesalePricePerGpuHour: '2.50' });
    expect(before).toMatchObject({ totalCredits: '125.000000', wholesaleCostPerCredit: '2.000000' });

    const changed = await t.gql(UPSERT_GPU, { input: { name: 'MI300X', creditsPerGpuHour: '1.312345' } }, OPERATOR_KEY);
    expect(changed.errors).toBeUndefined();
    expect(Number(changed.data.upsertGpuType.creditsPerGpuHour)).toBe(1.312345);
    const list = await gpuTypes();
    expect(Number(list.MI300X)).toBe(1.312345);
    expect(Object.keys(list)).toHaveLength(6);

    const after = await createListing(t, seller, { gpuType: 'MI300X', gpuHours: '100', wholesalePricePerGpuHour: '2.00' });
    expect(after.totalCredits).toBe('131.234500');
    const [old] = await t.db.dataSource.query(`SELECT total_credits::text AS total FROM listings WHERE id = $1`, [before.id]);
    expect(Number(old.total)).toBe(125);
    const listed = await t.gql(`{ listings(filter: { gpuType: "MI300X" }) { edges { node { id totalCredits } } } }`);
    // (Both were listed at the same frozen instant, so their order is not the point here.)
    const nodes = listed.data.listings.edges.map((e: { node: { id: string } }) => e.node);
    expect(nodes).toHaveLength(2);
    expect(nodes).toEqual(expect.arrayContaining([
      { id: before.id, totalCredits: '125.000000' },
      { id: after.id, totalCredits: '131.234500' },
    ]));
  });

  it('non-operators get FORBIDDEN, anonymous callers UNAUTHENTICATED, and the catalog is unchanged', async () => {
    const buyer = await register(t, 'BUYER');
    const seller = await register(t, 'SELLER');
    const before = await gpuTypes();
    for (const key of [buyer.key, seller.key]) {
      expect((await t.gql(UPSERT_GPU, { input: { name: 'H100', creditsPerGpuHour: '9' } }, key)).code).toBe('FORBIDDEN');
      expect((await t.gql(UPSERT_GPU, { input: { name: 'NEWGPU', creditsPerGpuHour: '9' } }, key)).code).toBe('FORBIDDEN');
    }
    expect((await t.gql(UPSERT_GPU, { input: { name: 'H100', creditsPerGpuHour: '9' } })).code).toBe('UNAUTHENTICATED');
    expect(await gpuTypes()).toEqual(before);
  });

  it.each([
    ['zero', '0'],
    ['negative', '-1'],
    ['7 decimals', '0.1234567'],
    ['exponent', '1e2'],
    ['empty', ''],
  ])('refuses creditsPerGpuHour: %s (BAD_USER_INPUT) and changes nothing', async (_label, value) => {
    const before = await gpuTypes();
    expect((await t.gql(UPSERT_GPU, { input: { name: 'H100', creditsPerGpuHour: value } }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
    expect((await t.gql(UPSERT_GPU, { input: { name: 'BADGPU', creditsPerGpuHour: value } }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
    expect(await gpuTypes()).toEqual(before);
  });

  it('refuses a bad GPU type name (BAD_USER_INPUT)', async () => {
    const before = await gpuTypes();
    for (const name of ['', ' ', 'has space', 'x'.repeat(33)]) {
      expect((await t.gql(UPSERT_GPU, { input: { name, creditsPerGpuHour: '1' } }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
    }
    expect(await gpuTypes()).toEqual(before);
  });

  it('models is public; the operator adds and changes a rate card, and rates may be zero', async () => {
    const before = await models();
    const added = await t.gql(UPSERT_MODEL, { input: { id: 'llama-3.1-70b', inputCreditsPerMillionTokens: '0.5', outputCreditsPerMillionTokens: '1.5' } }, OPERATOR_KEY);
    expect(added.errors).toBeUndefined();
    expect(added.data.upsertModel.id).toBe('llama-3.1-70b');
    expect(Number(added.data.upsertModel.inputCreditsPerMillionTokens)).toBe(0.5);
    expect(Number(added.data.upsertModel.outputCreditsPerMillionTokens)).toBe(1.5);
    let list = await models();
    expect(list['llama-3.1-70b'].map(Number)).toEqual([0.5, 1.5]);
    expect(Object.keys(list)).toHaveLength(Object.keys(before).length + 1);

    const changed = await t.gql(UPSERT_MODEL, { input: { id: 'llama-3.1-70b', inputCreditsPerMillionTokens: '0', outputCreditsPerMillionTokens: '2.000001' } }, OPERATOR_KEY);
    expect(changed.errors).toBeUndefined();
    list = await models();
    expect(list['llama-3.1-70b'].map(Number)).toEqual([0, 2.000001]);
    expect(Object.keys(list)).toHaveLength(Object.keys(before).length + 1);

    const free = await t.gql(UPSERT_MODEL, { input: { id: 'free-model', inputCreditsPerMillionTokens: '0', outputCreditsPerMillionTokens: '0.00' } }, OPERATOR_KEY);
    expect(free.errors).toBeUndefined();
    expect((await models())['free-model'].map(Number)).toEqual([0, 0]);
  });

  it.each([
    ['negative input rate', { inputCreditsPerMillionTokens: '-0.1', outputCreditsPerMillionTokens: '1' }],
    ['negative output rate', { inputCreditsPerMillionTokens: '1', outputCreditsPerMillionTokens: '-1' }],
    ['7 decimals', { inputCreditsPerMillionTokens: '0.0000001', outputCreditsPerMillionTokens: '1' }],
    ['NaN', { inputCreditsPerMillionTokens: 'NaN', outputCreditsPerMillionTokens: '1' }],
    ['a JSON number', { inputCreditsPerMillionTokens: 1, outputCreditsPerMillionTokens: '1' }],
  ])('refuses a rate card with %s (BAD_USER_INPUT) and changes nothing', async (_label, rates) => {
    const before = await models();
    expect((await t.gql(UPSERT_MODEL, { input: { id: 'llama-3.1-70b', ...rates } }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
    expect((await t.gql(UPSERT_MODEL, { input: { id: 'never-added', ...rates } }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
    expect(await models()).toEqual(before);
  });

  it('upsertModel: non-operators get FORBIDDEN, anonymous callers UNAUTHENTICATED', async () => {
    const buyer = await register(t, 'BUYER');
    const before = await models();
    const input = { id: 'sneaky', inputCreditsPerMillionTokens: '1', outputCreditsPerMillionTokens: '1' };
    expect((await t.gql(UPSERT_MODEL, { input }, buyer.key)).code).toBe('FORBIDDEN');
    expect((await t.gql(UPSERT_MODEL, { input })).code).toBe('UNAUTHENTICATED');
    expect(await models()).toEqual(before);
  });
});

describe('the operator organization and its key', () => {
  const env = (url: string, extra: Record<string, string> = {}) =>
    loadConfig({ NODE_ENV: 'test', DATABASE_URL: url, CCX_TEST_CLOCK: 'true', CCX_CLOCK_START: CLOCK_START, CCX_SERVICING_INTERVAL_MS: '0', ...extra });
  const schemaFile = async () => join(await mkdtemp(join(tmpdir(), 'ccx-schema-')), 'schema.gql');

  async function operatorRows(db: TestDatabase): Promise<{ orgs: { id: string; status: string }[]; keys: { hash: string }[] }> {
    const orgs = await db.dataSource.query(`SELECT id, status FROM organizations WHERE role = 'OPERATOR'`);
    const keys = await db.dataSource.query(
      `SELECT encode(k.key_hash, 'hex') AS hash FROM api_keys k JOIN organizations o ON o.id = k.organization_id WHERE o.role = 'OPERATOR'`,
    );
    return { orgs, keys };
  }

  async function meOn(server: RunningServer, key: string) {
    const res = await request(server.app.getHttpServer()).post('/graphql').set('authorization', `Bearer ${key}`).send({ query: '{ me { id role status } }' });
    return { data: res.body.data, code: res.body.errors?.[0]?.extensions?.code };
  }

  /** Runs `work` while recording everything written straight to stdout. */
  async function capturingStdout<T>(work: () => Promise<T>): Promise<{ result: T; output: string[] }> {
    const output: string[] = [];
    const original = process.stdout.write;
    process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
      output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
    try {
      return { result: await work(), output };
    } finally {
      process.stdout.write = original;
    }
  }

  it('with CCX_OPERATOR_KEY: one operator organization with exactly that key, also after a second start on the same database', async () => {
    const rows = await operatorRows(t.db);
    expect(rows.orgs).toEqual([{ id: await operatorId(t), status: 'ACTIVE' }]);
    expect(rows.keys).toEqual([{ hash: sha256Hex(OPERATOR_KEY) }]);

    const second = await startServer(env(t.db.url, { CCX_OPERATOR_KEY: OPERATOR_KEY }), { listen: false, schemaFile: await schemaFile() });
    try {
      expect(await operatorRows(t.db)).toEqual(rows);
      expect(await meOn(second, OPERATOR_KEY)).toEqual({ data: { me: { id: rows.orgs[0].id, role: 'OPERATOR', status: 'ACTIVE' } }, code: undefined });
      // The operator can act on the second instance too.
      const buyer = await register(t, 'BUYER');
      const dep = await request(second.app.getHttpServer())
        .post('/graphql')
        .set('authorization', `Bearer ${OPERATOR_KEY}`)
        .send({ query: `mutation { recordDeposit(input: { organizationId: "${buyer.id}", amount: "3.00", reference: "second-instance" }) { available } }` });
      expect(dep.body.errors).toBeUndefined();
      expect(dep.body.data.recordDeposit.available).toBe('3.00');
    } finally {
      await second.close();
    }
    expect(await operatorRows(t.db)).toEqual(rows);
    expect((await t.gql(`{ me { role } }`, {}, OPERATOR_KEY)).data.me.role).toBe('OPERATOR');
  });

  it('changing CCX_OPERATOR_KEY rotates the key: after a restart only the configured key works', async () => {
    const db = await createTestDatabase();
    const K1 = 'ccx-rotation-key-one-0123456789';
    const K2 = 'ccx-rotation-key-two-0123456789';
    let server: RunningServer | null = null;
    const boot = async (extra: Record<string, string>) => {
      await server?.close();
      server = null;
      server = await startServer(env(db.url, extra), { listen: false, schemaFile: await schemaFile() });
      return server;
    };
    try {
      let s = await boot({ CCX_OPERATOR_KEY: K1 });
      const id = (await meOn(s, K1)).data.me.id;
      expect((await meOn(s, K2)).code).toBe('UNAUTHENTICATED');

      s = await boot({ CCX_OPERATOR_KEY: K2 });
      expect(await meOn(s, K2)).toEqual({ data: { me: { id, role: 'OPERATOR', status: 'ACTIVE' } }, code: undefined });
      expect((await meOn(s, K1)).code).toBe('UNAUTHENTICATED');
      expect((await operatorRows(db)).orgs).toEqual([{ id, status: 'ACTIVE' }]);

      // Back to the first key: it works again, and the second no longer does.
      s = await boot({ CCX_OPERATOR_KEY: K1 });
      expect((await meOn(s, K1)).data.me.id).toBe(id);
      expect((await meOn(s, K2)).code).toBe('UNAUTHENTICATED');

      // A start without CCX_OPERATOR_KEY keeps the key in force and generates nothing.
      const quiet = await capturingStdout(() => boot({}));
      expect(quiet.output.join('')).not.toMatch(/API key/i);
      expect((await meOn(quiet.result, K1)).data.me.id).toBe(id);
      expect((await operatorRows(db)).orgs).toHaveLength(1);
    } finally {
      await (server as RunningServer | null)?.close();
      await db.drop();
    }
  });

  it('without CCX_OPERATOR_KEY: the first start generates a key and prints it once; a second start prints nothing', async () => {
    const db = await createTestDatabase();
    let server: RunningServer | null = null;
    try {
      const first = await capturingStdout(() => schemaFile().then((file) => startServer(env(db.url), { listen: false, schemaFile: file })));
      server = first.result;
      const printed = first.output.join('');
      const keys: string[] = [...printed.matchAll(/ccx_[A-Za-z0-9_-]{43}/g)].map((m) => m[0]);
      expect(keys).toHaveLength(1);
      const key = keys[0] as string;
      expect(first.output.filter((chunk) => chunk.includes(key))).toHaveLength(1);

      expect(await meOn(server, key)).toEqual({ data: { me: { id: expect.any(String), role: 'OPERATOR', status: 'ACTIVE' } }, code: undefined });
      const rows = await operatorRows(db);
      expect(rows.orgs).toHaveLength(1);
      expect(rows.keys).toEqual([{ hash: sha256Hex(key) }]);
      await server.close();
      server = null;

      const second = await capturingStdout(() => schemaFile().then((file) => startServer(env(db.url), { listen: false, schemaFile: file })));
      server = second.result;
      expect(second.output.join('')).not.toMatch(/ccx_[A-Za-z0-9_-]{43}/);
      expect(second.output.join('')).not.toMatch(/API key/i);
      expect(await operatorRows(db)).toEqual(rows);
      // The printed key keeps working after the restart.
      const me = await meOn(server, key);
      expect(me.data.me).toMatchObject({ id: rows.orgs[0].id, role: 'OPERATOR' });
      await server.close();
      server = null;

      // Setting CCX_OPERATOR_KEY later replaces the generated key.
      server = await startServer(env(db.url, { CCX_OPERATOR_KEY: OPERATOR_KEY }), { listen: false, schemaFile: await schemaFile() });
      expect((await meOn(server, OPERATOR_KEY)).data.me).toMatchObject({ id: rows.orgs[0].id, role: 'OPERATOR' });
      expect((await meOn(server, key)).code).toBe('UNAUTHENTICATED');
      expect((await operatorRows(db)).orgs).toHaveLength(1);
    } finally {
      await server?.close();
      await db.drop();
    }
  });
});
