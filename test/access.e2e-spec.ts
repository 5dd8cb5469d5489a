import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { acceptOk, type OfferInput, offerOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { reserve } from './support/drivers/market.js';
import { type Org, register, registerPending, suspend } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';
import { ApiKeysService } from '../apps/api/src/organizations/api-keys.service.js';
import { generateApiKey } from '../apps/api/src/organizations/api-keys.js';

/**
 * SPEC §2 access rules, as one table: every Query and Mutation field of the schema has a row,
 * and every row is tried by every kind of caller. A new operation without a row fails the test.
 */

type Caller = 'anonymous' | 'unknownKey' | 'buyer' | 'seller' | 'lender' | 'pendingSeller' | 'suspendedBuyer' | 'operator';
const CALLERS: Caller[] = ['anonymous', 'unknownKey', 'buyer', 'seller', 'lender', 'pendingSeller', 'suspendedBuyer', 'operator'];

/**
 * ok: allowed — every call in the table is valid, so an allowed call must succeed outright (and
 * change what it is meant to change); NOT_OWN: refused because the resource is someone else's
 * (FORBIDDEN, or NOT_FOUND so as not to reveal it exists).
 */
type Outcome = 'ok' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_OWN';
type Expectations = Record<Caller, Outcome>;

interface Case {
  label: string;
  query: string;
  /** Variables for one call by `caller` (may create what the call needs). */
  vars?: (caller: Caller) => Promise<Record<string, unknown>> | Record<string, unknown>;
  expect: Expectations;
  /** Something the call would change: the same after a refused call, different after an allowed one. */
  effect?: (vars: Record<string, unknown>) => Promise<unknown>;
  /** Checks on the data of an allowed call. */
  check?: (caller: Caller, data: any, vars: Record<string, unknown>) => void | Promise<void>;
}

const ROLE: Record<Caller, { role: string; status: string } | null> = {
  anonymous: null,
  unknownKey: null,
  buyer: { role: 'BUYER', status: 'ACTIVE' },
  seller: { role: 'SELLER', status: 'ACTIVE' },
  lender: { role: 'LENDER', status: 'ACTIVE' },
  pendingSeller: { role: 'SELLER', status: 'PENDING' },
  suspendedBuyer: { role: 'BUYER', status: 'SUSPENDED' },
  operator: { role: 'OPERATOR', status: 'ACTIVE' },
};

/** Everyone, even without a key; an unknown key is still refused (SPEC §2: unknown key → UNAUTHENTICATED). */
const PUBLIC: Expectations = {
  anonymous: 'ok',
  unknownKey: 'UNAUTHENTICATED',
  buyer: 'ok',
  seller: 'ok',
  lender: 'ok',
  pendingSeller: 'ok',
  suspendedBuyer: 'ok',
  operator: 'ok',
};

/**
 * Callers with one of `roles`: a read is open to any status; an action (`act`) needs ACTIVE.
 * 'ANY' means any authenticated organization.
 */
function only(kind: 'read' | 'act', ...roles: string[]): Expectations {
  return Object.fromEntries(
    CALLERS.map((caller): [Caller, Outcome] => {
      const who = ROLE[caller];
      if (!who) return [caller, 'UNAUTHENTICATED'];
      if (!roles.includes('ANY') && !roles.includes(who.role)) return [caller, 'FORBIDDEN'];
      if (kind === 'act' && who.status !== 'ACTIVE') return [caller, 'FORBIDDEN'];
      return [caller, 'ok'];
    }),
  ) as Expectations;
}
const override = (base: Expectations, changes: Partial<Expectations>): Expectations => ({ ...base, ...changes });

/** The field names of `type <name> { … }` in a generated schema file. */
function fieldsOf(schema: string, typeName: 'Query' | 'Mutation'): string[] {
  const withoutDescriptions = schema.replace(/"""[\s\S]*?"""/g, '').replace(/"[^"\n]*"/g, '');
  const block = new RegExp(`^type ${typeName} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(withoutDescriptions);
  if (!block) throw new Error(`type ${typeName} not found in the schema`);
  return [...block[1].matchAll(/^\s+([A-Za-z_][A-Za-z0-9_]*)\s*[(:]/gm)].map((m) => m[1]);
}

let t: TestApp;
const orgs = {} as Record<Exclude<Caller, 'anonymous' | 'unknownKey'>, Org> & {
  otherBuyer: Org;
  otherSeller: Org;
  depositTarget: Org;
  otherLender: Org;
  otherBorrower: Org;
};
const keyOf = (caller: Caller): string | null =>
  caller === 'anonymous' ? null : caller === 'unknownKey' ? 'ccx_thisKeyWasNeverIssued00000000000000000000' : orgs[caller].key;
let suspendedReservation: string;
let otherBuyerReservation: string;
let otherSellerListing: string;
let operatorOrgId: string;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
let clockMinutes = 0;
/** The business clock after the set-up, which moves it past the facilities' first due date. */
let clockBase: number;
/**
 * Facilities (SPEC §7), accepted at the clock's start (2026-01-05T12:00Z); the clock then moves to
 * 2026-02-12T12:00Z, 7 days past their first due date: `repay` (the lender's to the buyer) and
 * `freeze` (default after 60 days) are DELINQUENT; `unfreeze` and `recover` (grace 1, default 3)
 * DEFAULTED and frozen; `suspended` is the suspended buyer's; `other` is another lender's to
 * another buyer (DEFAULTED and frozen); `suspendedOffer` and `otherOffer` are still OFFERED.
 */
const fac = {} as Record<'repay' | 'freeze' | 'unfreeze' | 'recover' | 'suspended' | 'other' | 'suspendedOffer' | 'otherOffer', string>;
const SMALL_LOAN = { principal: '100.00', apr: '0.12', termMonths: 3 } as const;
const FACILITY_CLOCK = '2026-02-12T12:00:00.000Z';

/** A fresh offer to the buyer from another lender (who can fund it). */
async function offerToBuyer(): Promise<string> {
  return (await offerOk(t, orgs.otherLender, { borrowerId: orgs.buyer.id, ...SMALL_LOAN })).id;
}
const blockStatusOf = (facilityId: unknown) =>
  scalar(`SELECT b.status FROM credit_blocks b JOIN facilities f ON f.block_id = b.id WHERE f.id = $1`, [facilityId]);
const facilityStatusOf = (facilityId: unknown) => scalar(`SELECT status FROM facilities WHERE id = $1`, [facilityId]);
/** A spare key of `org` (made directly, so PENDING and SUSPENDED callers have one too). */
const spareKeyOf = (org: Org) =>
  t.app.get(ApiKeysService).insertKeyInTransaction(t.db.dataSource.manager, { organizationId: org.id, secret: generateApiKey(), name: unique('spare') });
const keyRevokedAt = (id: unknown) => scalar(`SELECT revoked_at FROM api_keys WHERE id = $1`, [id]);

/** A fresh listing of the seller, for endpoint rows. */
const ownListing = async () => (await createListing(t, orgs.seller, { gpuHours: '5', wholesalePricePerGpuHour: '3.00' })).id as string;
/** The catalog model every endpoint row serves (created once). */
async function gatewayModel(): Promise<string> {
  await t.gql(`mutation { upsertModel(input: { id: "access-gw", inputCreditsPerMillionTokens: "1", outputCreditsPerMillionTokens: "1" }) { id } }`, {}, OPERATOR_KEY);
  return 'access-gw';
}
/** An endpoint of `seller` on `listingId`, made through the API. */
async function endpointOf(seller: Org, listingId: string): Promise<string> {
  const res = await t.gql(
    `mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { id } }`,
    { input: { listingId, baseUrl: 'https://gpu.example.com/v1', models: [{ model: await gatewayModel() }] } },
    seller.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createInferenceEndpoint.id;
}

async function scalar(sql: string, params: unknown[] = []): Promise<unknown> {
  const [row] = await t.db.dataSource.query(sql, params);
  return row ? Object.values(row)[0] : undefined;
}

beforeAll(async () => {
  t = await startTestApp();
  operatorOrgId = (await t.gql(`{ me { id } }`, {}, OPERATOR_KEY)).data.me.id;
  orgs.operator = { id: operatorOrgId, key: OPERATOR_KEY };
  orgs.seller = await register(t, 'SELLER');
  orgs.otherSeller = await register(t, 'SELLER');
  await createListing(t, orgs.seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.00' });
  otherSellerListing = (await createListing(t, orgs.otherSeller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.10' })).id;
  orgs.buyer = await register(t, 'BUYER');
  orgs.otherBuyer = await register(t, 'BUYER');
  orgs.depositTarget = await register(t, 'BUYER');
  orgs.lender = await register(t, 'LENDER');
  orgs.pendingSeller = await registerPending(t, 'SELLER');
  orgs.suspendedBuyer = await register(t, 'BUYER');
  await deposit(t, orgs.buyer, '1000000.00');
  await deposit(t, orgs.otherBuyer, '1000.00');
  await deposit(t, orgs.suspendedBuyer, '1000.00');
  await setUpFacilities();
  otherBuyerReservation = await reserve(t, orgs.otherBuyer, '1', 3);
  suspendedReservation = await reserve(t, orgs.suspendedBuyer, '1', 3);
  await suspend(t, orgs.suspendedBuyer);
});
afterAll(async () => {
  await t.close();
});

/**
 * The lender lends exactly what it deposits (its wallet is 0.00 afterwards, as the wallet row
 * expects); then the clock moves on, before the reservations are made so that they deliver no
 * second month during the table.
 */
async function setUpFacilities(): Promise<void> {
  orgs.otherLender = await register(t, 'LENDER');
  orgs.otherBorrower = await register(t, 'BUYER');
  await deposit(t, orgs.lender, '500.00');
  await deposit(t, orgs.otherLender, '100000.00');
  const open = async (lender: Org, borrower: Org, terms: Partial<OfferInput> = {}) =>
    (await acceptOk(t, borrower, (await offerOk(t, lender, { borrowerId: borrower.id, ...SMALL_LOAN, ...terms })).id)).id as string;
  fac.repay = await open(orgs.lender, orgs.buyer);
  fac.freeze = await open(orgs.lender, orgs.buyer, { defaultAfterDaysPastDue: 60 });
  fac.unfreeze = await open(orgs.lender, orgs.buyer, { graceDays: 1, defaultAfterDaysPastDue: 3 });
  fac.recover = await open(orgs.lender, orgs.buyer, { graceDays: 1, defaultAfterDaysPastDue: 3 });
  fac.suspended = await open(orgs.lender, orgs.suspendedBuyer);
  fac.other = await open(orgs.otherLender, orgs.otherBorrower, { graceDays: 1, defaultAfterDaysPastDue: 3 });
  fac.suspendedOffer = (await offerOk(t, orgs.otherLender, { borrowerId: orgs.suspendedBuyer.id, ...SMALL_LOAN })).id;
  fac.otherOffer = (await offerOk(t, orgs.otherLender, { borrowerId: orgs.otherBorrower.id, ...SMALL_LOAN })).id;
  const moved = await t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to: FACILITY_CLOCK }, OPERATOR_KEY);
  if (moved.errors) throw new Error(JSON.stringify(moved.errors));
  clockBase = Date.parse(FACILITY_CLOCK);
  const statuses = await Promise.all([fac.repay, fac.freeze, fac.unfreeze, fac.recover, fac.other].map(facilityStatusOf));
  if (statuses.join() !== 'DELINQUENT,DELINQUENT,DEFAULTED,DEFAULTED,DEFAULTED') throw new Error(`unexpected facility statuses ${statuses.join()}`);
}

const LISTING_INPUT = {
  gpuType: 'H100',
  region: 'eu-west',
  gpuHours: '10',
  wholesalePricePerGpuHour: '2.00',
  availableFrom: '2026-01-01T00:00:00Z',
  availableUntil: '2027-01-01T00:00:00Z',
};

/**
 * Usage (SPEC §8): a buyer with standard credits and one recorded event, made on first use, that
 * the operator-only usage rows charge; `openHold` authorizes a fresh hold on it.
 */
const USAGE_RANGE = { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', groupBy: 'DAY' };
let usageBuyerReady: Promise<Org> | null = null;
const usageBuyer = (): Promise<Org> =>
  (usageBuyerReady ??= (async () => {
    const buyer = await register(t, 'BUYER');
    await deposit(t, buyer, '1000.00');
    const bought = await t.gql(`mutation { purchaseCredits(input: { credits: "100", idempotencyKey: "usage-rows" }) { id } }`, {}, buyer.key);
    if (bought.errors) throw new Error(JSON.stringify(bought.errors));
    const used = await t.gql(
      `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { credits } }`,
      { input: { organizationId: buyer.id, eventId: 'usage-rows-seed', gpuType: 'H100', gpuSeconds: '36' } },
      OPERATOR_KEY,
    );
    if (used.errors) throw new Error(JSON.stringify(used.errors));
    return buyer;
  })());
async function openHold(): Promise<string> {
  const res = await t.gql(
    `mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { id } }`,
    { input: { organizationId: (await usageBuyer()).id, eventId: unique('hold'), credits: '0.5' } },
    OPERATOR_KEY,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.authorizeUsage.id;
}
const usageEventsIn = async (organizationId: string | null) =>
  Number(await scalar(`SELECT count(*)::int FROM usage_events WHERE ($1::uuid IS NULL OR organization_id = $1) AND occurred_at >= $2 AND occurred_at < $3`, [organizationId, USAGE_RANGE.from, USAGE_RANGE.to]));
const reportEvents = (rows: { events: number }[]) => rows.reduce((n, r) => n + r.events, 0);

/** An OPEN financing request of `buyer` (written directly, so a suspended buyer can have one too). */
async function openRequestOf(buyer: Org): Promise<string> {
  const id = randomUUID();
  await t.db.dataSource.query(
    `INSERT INTO financing_requests (id, borrower_id, amount, term_months, purpose, status, created_at) VALUES ($1, $2, 100.00, 3, 'access', 'OPEN', now())`,
    [id, buyer.id],
  );
  return id;
}

/** A PENDING payout of `seller` (funded by a deposit, requested through the API). */
async function pendingPayoutOf(seller: Org): Promise<string> {
  await deposit(t, seller, '1.00');
  const res = await t.gql(
    `mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { id } }`,
    { input: { amount: '1.00', idempotencyKey: unique('payout') } },
    seller.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.requestPayout.id;
}

const TABLE: Record<string, Case[]> = {
  // ---- Query ----
  me: [
    {
      label: 'own organization',
      query: `{ me { id role status } }`,
      expect: only('read', 'ANY'),
      check: (caller, data) => expect(data.me).toEqual({ id: orgs[caller as keyof typeof orgs].id, ...ROLE[caller] }),
    },
  ],
  apiKeys: [
    {
      label: 'own keys',
      query: `{ apiKeys { id name lastFour } }`,
      expect: only('read', 'ANY'),
      check: (caller, data) => expect(data.apiKeys.map((k: { lastFour: string }) => k.lastFour)).toContain(keyOf(caller)!.slice(-4)),
    },
  ],
  inferenceEndpoints: [
    {
      label: 'own endpoints (operator: all)',
      query: `{ inferenceEndpoints { id } }`,
      expect: only('read', 'SELLER', 'OPERATOR'),
      check: (_c, data) => expect(Array.isArray(data.inferenceEndpoints)).toBe(true),
    },
  ],
  inferenceRequests: [
    {
      label: 'own requests (seller: served; operator: all)',
      query: `{ inferenceRequests(first: 5) { totalCount edges { node { id } } } }`,
      expect: only('read', 'BUYER', 'SELLER', 'OPERATOR'),
      check: (_c, data) => expect(data.inferenceRequests.totalCount).toBeGreaterThanOrEqual(0),
    },
  ],
  clock: [{ label: 'read', query: `{ clock }`, expect: PUBLIC, check: (_c, data) => expect(typeof data.clock).toBe('string') }],
  wallet: [
    {
      label: 'own wallet',
      query: `{ wallet { currency available } }`,
      expect: only('read', 'ANY'),
      check: async (caller, data) => {
        expect(data.wallet.currency).toBe('USD');
        if (caller !== 'operator') expect(data.wallet.available).toBe(await walletOf(t, orgs[caller as keyof typeof orgs]));
        if (caller === 'pendingSeller' || caller === 'lender') expect(data.wallet.available).toBe('0.00');
      },
    },
  ],
  gpuTypes: [{ label: 'read', query: `{ gpuTypes { name creditsPerGpuHour } }`, expect: PUBLIC, check: (_c, data) => expect(data.gpuTypes.length).toBeGreaterThanOrEqual(5) }],
  models: [{ label: 'read', query: `{ models { id } }`, expect: PUBLIC, check: (_c, data) => expect(Array.isArray(data.models)).toBe(true) }],
  listings: [
    {
      label: 'read',
      query: `{ listings(first: 5) { totalCount edges { node { id seller { id } } } } }`,
      expect: PUBLIC,
      check: (_c, data) => expect(data.listings.totalCount).toBeGreaterThanOrEqual(2),
    },
  ],
  market: [{ label: 'read', query: `{ market { totalCredits utilization } }`, expect: PUBLIC, check: (_c, data) => expect(Number(data.market.totalCredits)).toBeGreaterThan(0) }],
  quote: [
    {
      label: 'standard quote',
      query: `{ quote(input: { type: STANDARD, credits: "10" }) { unitPrice totalPrice } }`,
      expect: PUBLIC,
      check: (_c, data) => expect(Number(data.quote.unitPrice)).toBeGreaterThan(0),
    },
  ],
  creditBalance: [
    {
      label: 'own balance',
      query: `{ creditBalance { available blocks { id } } }`,
      expect: only('read', 'BUYER', 'OPERATOR'),
    },
    {
      label: 'naming itself',
      query: `query($id: ID) { creditBalance(organizationId: $id) { available } }`,
      vars: (caller) => ({ id: ROLE[caller] ? orgs[caller as keyof typeof orgs].id : orgs.buyer.id }),
      expect: only('read', 'BUYER', 'OPERATOR'),
    },
    {
      label: "another buyer's balance (operator only)",
      query: `query($id: ID) { creditBalance(organizationId: $id) { available blocks { id } } }`,
      vars: () => ({ id: orgs.otherBuyer.id }),
      expect: only('read', 'OPERATOR'),
      check: (_c, data) => expect(data.creditBalance.blocks.length).toBe(1),
    },
  ],
  reservations: [
    {
      label: 'own (operator: all)',
      query: `{ reservations { id } }`,
      expect: only('read', 'BUYER', 'OPERATOR'),
      check: (caller, data) => {
        const ids = data.reservations.map((r: { id: string }) => r.id);
        if (caller === 'operator') expect(ids).toEqual(expect.arrayContaining([otherBuyerReservation, suspendedReservation]));
        else expect(ids).not.toContain(otherBuyerReservation);
        if (caller === 'suspendedBuyer') expect(ids).toEqual([suspendedReservation]);
      },
    },
  ],
  balanceSettings: [
    {
      label: 'own settings',
      query: `{ balanceSettings { lowBalanceThreshold autoRefillThreshold webhookUrl webhookSecret } }`,
      expect: only('read', 'BUYER'),
      // The signing secret is shown once, by the update that made it; never by a read.
      check: (_c, data) => expect(data.balanceSettings.webhookSecret).toBeNull(),
    },
  ],
  alerts: [
    {
      label: 'own alerts',
      query: `{ alerts(first: 5) { id kind message createdAt } }`,
      expect: only('read', 'BUYER', 'LENDER'),
      check: (_c, data) => expect(Array.isArray(data.alerts)).toBe(true),
    },
  ],
  facilities: [
    {
      label: 'own, as lender or borrower (operator: all)',
      query: `{ facilities { id lender { id } borrower { id } } }`,
      expect: only('read', 'ANY'),
      check: async (caller, data) => {
        const ids = data.facilities.map((f: { id: string }) => f.id).sort();
        const mine =
          caller === 'operator'
            ? await t.db.dataSource.query(`SELECT id FROM facilities`)
            : await t.db.dataSource.query(`SELECT id FROM facilities WHERE lender_id = $1 OR borrower_id = $1`, [orgs[caller as keyof typeof orgs].id]);
        expect(ids).toEqual(mine.map((r: { id: string }) => r.id).sort());
        if (caller === 'seller' || caller === 'pendingSeller') expect(ids).toEqual([]);
        if (caller === 'buyer') expect(ids).toEqual(expect.arrayContaining([fac.repay, fac.freeze]));
        if (caller === 'buyer' || caller === 'lender') expect(ids).not.toContain(fac.other);
        if (caller === 'suspendedBuyer') expect(ids).toEqual([fac.suspended, fac.suspendedOffer].sort());
      },
    },
  ],
  facility: [
    {
      label: "the lender's facility to the buyer (anyone else: null)",
      query: `query($id: ID!) { facility(id: $id) { id status lender { id } borrower { id } freezeEvents { action } } }`,
      vars: () => ({ id: fac.repay }),
      expect: only('read', 'ANY'),
      check: (caller, data) => {
        if (caller === 'buyer' || caller === 'lender' || caller === 'operator') {
          expect(data.facility).toMatchObject({ id: fac.repay, status: 'DELINQUENT', lender: { id: orgs.lender.id }, borrower: { id: orgs.buyer.id } });
          // The freeze audit trail is the lender's and the operator's, not the borrower's.
          expect(data.facility.freezeEvents).toEqual(caller === 'buyer' ? null : []);
        } else {
          expect(data.facility).toBeNull();
        }
      },
    },
  ],
  usageReport: [
    {
      label: "own usage (operator: everyone's)",
      query: `query($input: UsageReportInput!) { usageReport(input: $input) { key events credits } }`,
      vars: async () => {
        await usageBuyer();
        return { input: USAGE_RANGE };
      },
      expect: only('read', 'BUYER', 'OPERATOR'),
      check: async (caller, data) => {
        // The buyers of this table use nothing; the operator sees every buyer's events.
        if (caller === 'operator') expect(reportEvents(data.usageReport)).toBe(await usageEventsIn(null));
        else expect(data.usageReport).toEqual([]);
      },
    },
    {
      label: 'naming itself',
      query: `query($input: UsageReportInput!, $id: ID) { usageReport(input: $input, organizationId: $id) { key events } }`,
      vars: (caller) => ({ input: USAGE_RANGE, id: ROLE[caller] ? orgs[caller as keyof typeof orgs].id : orgs.buyer.id }),
      expect: only('read', 'BUYER', 'OPERATOR'),
      check: (_c, data) => expect(data.usageReport).toEqual([]),
    },
    {
      label: "another buyer's usage (operator only)",
      query: `query($input: UsageReportInput!, $id: ID) { usageReport(input: $input, organizationId: $id) { key events } }`,
      vars: async () => ({ input: USAGE_RANGE, id: (await usageBuyer()).id }),
      expect: only('read', 'OPERATOR'),
      check: async (_c, data, vars) => {
        expect(reportEvents(data.usageReport)).toBe(await usageEventsIn(vars.id as string));
        expect(reportEvents(data.usageReport)).toBeGreaterThanOrEqual(1);
      },
    },
  ],
  ledgerIntegrity: [
    {
      label: 'read',
      query: `{ ledgerIntegrity { balanced } }`,
      expect: only('read', 'OPERATOR'),
      check: (_c, data) => expect(data.ledgerIntegrity.balanced).toBe(true),
    },
  ],

  organizations: [
    {
      label: 'the directory (approvals queue)',
      query: `{ organizations(filter: { status: PENDING }, first: 50) { totalCount edges { node { id status } } } }`,
      expect: only('read', 'OPERATOR'),
      check: (_c, data) => {
        expect(data.organizations.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(orgs.pendingSeller.id);
        expect(data.organizations.edges.every((e: { node: { status: string } }) => e.node.status === 'PENDING')).toBe(true);
      },
    },
  ],
  financingRequests: [
    {
      label: 'own (lender: the OPEN ones; operator: all)',
      query: `{ financingRequests { id status borrower { id } borrowerProfile { facilitiesRepaid } } }`,
      vars: async () => ({ seeded: await openRequestOf(orgs.otherBuyer) }),
      expect: only('read', 'BUYER', 'LENDER', 'OPERATOR'),
      check: (caller, data, vars) => {
        const ids = data.financingRequests.map((r: { id: string }) => r.id);
        if (caller === 'buyer' || caller === 'suspendedBuyer') expect(ids).not.toContain(vars.seeded);
        else expect(ids).toContain(vars.seeded);
      },
    },
  ],
  walletEntries: [
    {
      label: 'own wallet',
      query: `{ walletEntries(first: 200) { totalCount edges { node { amount balanceAfter } } } }`,
      expect: only('read', 'ANY'),
      check: async (caller, data) => {
        const amounts = data.walletEntries.edges.map((e: { node: { amount: string } }) => Number(e.node.amount) * 100);
        expect(data.walletEntries.totalCount).toBe(amounts.length);
        if (caller !== 'operator') expect(amounts.reduce((a: number, b: number) => a + b, 0) / 100).toBeCloseTo(Number(await walletOf(t, orgs[caller as keyof typeof orgs])), 2);
      },
    },
    {
      label: "another organization's wallet (operator only)",
      query: `query($id: ID) { walletEntries(organizationId: $id) { totalCount } }`,
      vars: () => ({ id: orgs.otherBuyer.id }),
      expect: only('read', 'OPERATOR'),
      check: (_c, data) => expect(data.walletEntries.totalCount).toBeGreaterThanOrEqual(1),
    },
  ],
  statement: [
    {
      label: 'own wallet, this month',
      query: `{ statement(month: "2026-02") { month openingBalance closingBalance } }`,
      expect: only('read', 'ANY'),
      check: (_c, data) => expect(data.statement.month).toBe('2026-02'),
    },
    {
      label: "another organization's wallet (operator only)",
      query: `query($id: ID) { statement(month: "2026-01", organizationId: $id) { closingBalance entries { kind } } }`,
      vars: () => ({ id: orgs.otherBuyer.id }),
      expect: only('read', 'OPERATOR'),
      check: (_c, data) => expect(data.statement.entries.map((e: { kind: string }) => e.kind)).toContain('deposit'),
    },
  ],
  payouts: [
    {
      label: 'own payouts (operator: all)',
      query: `{ payouts { id organization { id } } }`,
      vars: async () => ({ seeded: await pendingPayoutOf(orgs.otherSeller) }),
      expect: only('read', 'SELLER', 'LENDER', 'OPERATOR'),
      check: (caller, data, vars) => {
        const ids = data.payouts.map((p: { id: string }) => p.id);
        if (caller === 'operator') expect(ids).toContain(vars.seeded);
        else expect(ids).not.toContain(vars.seeded);
      },
    },
  ],

  // ---- Mutation ----
  registerOrganization: [
    {
      label: 'sign-up',
      query: `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { status } } }`,
      vars: () => ({ input: { name: unique('signup'), role: 'BUYER' } }),
      expect: PUBLIC,
      effect: () => scalar(`SELECT count(*)::int FROM organizations`),
    },
  ],
  approveOrganization: [
    {
      label: 'a PENDING seller',
      query: `mutation($id: ID!) { approveOrganization(id: $id) { status } }`,
      vars: async () => ({ id: (await registerPending(t, 'SELLER')).id }),
      expect: only('act', 'OPERATOR'),
      effect: (v) => scalar(`SELECT status FROM organizations WHERE id = $1`, [v.id]),
    },
  ],
  suspendOrganization: [
    {
      label: 'an ACTIVE buyer',
      query: `mutation($id: ID!) { suspendOrganization(id: $id) { status } }`,
      vars: async () => ({ id: (await register(t, 'BUYER')).id }),
      expect: only('act', 'OPERATOR'),
      effect: (v) => scalar(`SELECT status FROM organizations WHERE id = $1`, [v.id]),
    },
  ],
  recordDeposit: [
    {
      label: "into a buyer's wallet",
      query: `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
      vars: () => ({ input: { organizationId: orgs.depositTarget.id, amount: '1.00', reference: unique('dep') } }),
      expect: only('act', 'OPERATOR'),
      effect: () => walletOf(t, orgs.depositTarget),
    },
  ],
  upsertGpuType: [
    {
      label: 'a new type',
      query: `mutation($input: GpuTypeInput!) { upsertGpuType(input: $input) { name } }`,
      vars: () => ({ input: { name: unique('G').slice(0, 30), creditsPerGpuHour: '0.75' } }),
      expect: only('act', 'OPERATOR'),
      effect: () => scalar(`SELECT count(*)::int FROM gpu_types`),
    },
  ],
  upsertModel: [
    {
      label: 'a new model',
      query: `mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`,
      vars: () => ({ input: { id: unique('model'), inputCreditsPerMillionTokens: '0.5', outputCreditsPerMillionTokens: '1' } }),
      expect: only('act', 'OPERATOR'),
      effect: () => scalar(`SELECT count(*)::int FROM models`),
    },
  ],
  createListing: [
    {
      label: 'own listing',
      query: `mutation($input: CreateListingInput!) { createListing(input: $input) { id seller { id } } }`,
      vars: () => ({ input: LISTING_INPUT }),
      expect: only('act', 'SELLER'),
      effect: () => scalar(`SELECT count(*)::int FROM listings`),
      check: (caller, data) => expect(data.createListing.seller.id).toBe(orgs[caller as keyof typeof orgs].id),
    },
  ],
  withdrawListing: [
    {
      label: 'own listing',
      query: `mutation($id: ID!) { withdrawListing(id: $id) { status } }`,
      vars: async () => ({ id: (await createListing(t, orgs.seller, { gpuHours: '5', wholesalePricePerGpuHour: '3.00' })).id }),
      expect: only('act', 'SELLER'),
      effect: (v) => scalar(`SELECT status FROM listings WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.withdrawListing.status).toBe('WITHDRAWN'),
    },
    {
      label: "another seller's listing",
      query: `mutation($id: ID!) { withdrawListing(id: $id) { status } }`,
      vars: () => ({ id: otherSellerListing }),
      expect: override(only('act', 'SELLER'), { seller: 'FORBIDDEN' }),
      effect: (v) => scalar(`SELECT status FROM listings WHERE id = $1`, [v.id]),
    },
  ],
  purchaseCredits: [
    {
      label: 'standard credits',
      query: `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { credits } }`,
      vars: () => ({ input: { credits: '1', idempotencyKey: unique('buy') } }),
      expect: only('act', 'BUYER'),
      effect: () => scalar(`SELECT count(*)::int FROM purchases`),
    },
  ],
  reserveCredits: [
    {
      label: 'a reservation',
      query: `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { status } }`,
      vars: () => ({ input: { creditsPerMonth: '1', termMonths: 2, idempotencyKey: unique('res') } }),
      expect: only('act', 'BUYER'),
      effect: () => scalar(`SELECT count(*)::int FROM reservations`),
    },
  ],
  cancelReservation: [
    {
      label: 'own reservation',
      query: `mutation($id: ID!) { cancelReservation(id: $id) { status } }`,
      // The suspended buyer tries its own reservation; everyone else one of the active buyer's.
      vars: async (caller) => ({ id: caller === 'suspendedBuyer' ? suspendedReservation : await reserve(t, orgs.buyer, '1', 3) }),
      expect: only('act', 'BUYER'),
      effect: (v) => scalar(`SELECT status FROM reservations WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.cancelReservation.status).toBe('CANCELLED'),
    },
    {
      label: "another buyer's reservation",
      query: `mutation($id: ID!) { cancelReservation(id: $id) { status } }`,
      vars: () => ({ id: otherBuyerReservation }),
      expect: override(only('act', 'BUYER'), { buyer: 'NOT_OWN' }),
      effect: (v) => scalar(`SELECT status FROM reservations WHERE id = $1`, [v.id]),
    },
  ],
  updateBalanceSettings: [
    {
      label: 'own settings',
      query: `mutation($input: BalanceSettingsInput!) { updateBalanceSettings(input: $input) { lowBalanceThreshold } }`,
      vars: () => ({ input: { lowBalanceThreshold: String(++counter) } }),
      expect: only('act', 'BUYER'),
      effect: () => scalar(`SELECT coalesce(string_agg(organization_id || ':' || low_balance_threshold, ',' ORDER BY organization_id), '') FROM balance_settings`),
      check: (_c, data, vars) =>
        expect(data.updateBalanceSettings.lowBalanceThreshold).toBe(`${(vars.input as { lowBalanceThreshold: string }).lowBalanceThreshold}.000000`),
    },
  ],
  offerFacility: [
    {
      label: 'to a buyer',
      query: `mutation($input: OfferFacilityInput!) { offerFacility(input: $input) { status lender { id } } }`,
      vars: () => ({ input: { borrowerId: orgs.otherBuyer.id, ...SMALL_LOAN } }),
      expect: only('act', 'LENDER'),
      effect: () => scalar(`SELECT count(*)::int FROM facilities`),
      check: (caller, data) => expect(data.offerFacility).toEqual({ status: 'OFFERED', lender: { id: orgs[caller as keyof typeof orgs].id } }),
    },
  ],
  acceptFacility: [
    {
      label: 'own offer',
      query: `mutation($id: ID!) { acceptFacility(id: $id) { status } }`,
      // The suspended buyer tries its own offer; everyone else one made to the active buyer.
      vars: async (caller) => ({ id: caller === 'suspendedBuyer' ? fac.suspendedOffer : await offerToBuyer() }),
      expect: only('act', 'BUYER'),
      effect: (v) => facilityStatusOf(v.id),
      check: (_c, data) => expect(data.acceptFacility.status).toBe('ACTIVE'),
    },
    {
      label: "another buyer's offer",
      query: `mutation($id: ID!) { acceptFacility(id: $id) { status } }`,
      vars: () => ({ id: fac.otherOffer }),
      expect: override(only('act', 'BUYER'), { buyer: 'NOT_OWN' }),
      effect: (v) => facilityStatusOf(v.id),
    },
  ],
  declineFacility: [
    {
      label: 'own offer',
      query: `mutation($id: ID!) { declineFacility(id: $id) { status } }`,
      vars: async (caller) => ({ id: caller === 'suspendedBuyer' ? fac.suspendedOffer : await offerToBuyer() }),
      expect: only('act', 'BUYER'),
      effect: (v) => facilityStatusOf(v.id),
      check: (_c, data) => expect(data.declineFacility.status).toBe('DECLINED'),
    },
    {
      label: "another buyer's offer",
      query: `mutation($id: ID!) { declineFacility(id: $id) { status } }`,
      vars: () => ({ id: fac.otherOffer }),
      expect: override(only('act', 'BUYER'), { buyer: 'NOT_OWN' }),
      effect: (v) => facilityStatusOf(v.id),
    },
  ],
  repayFacility: [
    {
      label: 'own facility',
      query: `mutation($input: RepayFacilityInput!) { repayFacility(input: $input) { amount } }`,
      vars: (caller) => ({ input: { facilityId: caller === 'suspendedBuyer' ? fac.suspended : fac.repay, amount: '1.00', idempotencyKey: unique('repay') } }),
      expect: only('act', 'BUYER'),
      effect: (v) => scalar(`SELECT count(*)::int FROM repayments WHERE facility_id = $1`, [(v.input as { facilityId: string }).facilityId]),
      check: (_c, data) => expect(data.repayFacility.amount).toBe('1.00'),
    },
    {
      label: "another buyer's facility",
      query: `mutation($input: RepayFacilityInput!) { repayFacility(input: $input) { amount } }`,
      vars: () => ({ input: { facilityId: fac.other, amount: '1.00', idempotencyKey: unique('repay') } }),
      expect: override(only('act', 'BUYER'), { buyer: 'NOT_OWN' }),
      effect: () => scalar(`SELECT count(*)::int FROM repayments WHERE facility_id = $1`, [fac.other]),
    },
  ],
  freezeFacilityCredits: [
    {
      label: 'own DELINQUENT facility',
      query: `mutation($id: ID!) { freezeFacilityCredits(id: $id, reason: "no answer") { frozen } }`,
      vars: () => ({ id: fac.freeze }),
      expect: only('act', 'LENDER'),
      effect: (v) => blockStatusOf(v.id),
      check: (_c, data) => expect(data.freezeFacilityCredits.frozen).toBe(true),
    },
    {
      label: "another lender's facility",
      query: `mutation($id: ID!) { freezeFacilityCredits(id: $id, reason: "no answer") { frozen } }`,
      vars: () => ({ id: fac.other }),
      expect: override(only('act', 'LENDER'), { lender: 'NOT_OWN' }),
      effect: (v) => scalar(`SELECT count(*)::int FROM freeze_events WHERE facility_id = $1`, [v.id]),
    },
  ],
  unfreezeFacilityCredits: [
    {
      label: 'own frozen facility',
      query: `mutation($id: ID!) { unfreezeFacilityCredits(id: $id) { frozen } }`,
      vars: () => ({ id: fac.unfreeze }),
      expect: only('act', 'LENDER'),
      effect: (v) => blockStatusOf(v.id),
      check: (_c, data) => expect(data.unfreezeFacilityCredits.frozen).toBe(false),
    },
    {
      label: "another lender's facility",
      query: `mutation($id: ID!) { unfreezeFacilityCredits(id: $id) { frozen } }`,
      vars: () => ({ id: fac.other }),
      expect: override(only('act', 'LENDER'), { lender: 'NOT_OWN' }),
      effect: (v) => blockStatusOf(v.id),
    },
  ],
  recoverFrozenCredits: [
    {
      label: 'own DEFAULTED facility',
      query: `mutation($id: ID!) { recoverFrozenCredits(id: $id) { amountRecovered facility { status } } }`,
      vars: () => ({ id: fac.recover }),
      expect: only('act', 'LENDER'),
      effect: (v) => facilityStatusOf(v.id),
      // 0.80 × 98.00 of credits bought back; 100.00 of principal plus due interest owed.
      check: (_c, data) => expect(data.recoverFrozenCredits).toEqual({ amountRecovered: '78.40', facility: { status: 'CHARGED_OFF' } }),
    },
    {
      label: "another lender's facility",
      query: `mutation($id: ID!) { recoverFrozenCredits(id: $id) { amountRecovered } }`,
      vars: () => ({ id: fac.other }),
      expect: override(only('act', 'LENDER'), { lender: 'NOT_OWN' }),
      effect: (v) => facilityStatusOf(v.id),
    },
  ],
  recordUsage: [
    {
      label: "an event on a buyer's credits",
      query: `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { eventId credits duplicate } }`,
      vars: async () => ({ input: { organizationId: (await usageBuyer()).id, eventId: unique('usage'), gpuType: 'H100', gpuSeconds: '36' } }),
      expect: only('act', 'OPERATOR'),
      effect: () => scalar(`SELECT count(*)::int FROM usage_events`),
      check: (_c, data, vars) =>
        expect(data.recordUsage).toEqual({ eventId: (vars.input as { eventId: string }).eventId, credits: '0.010000', duplicate: false }),
    },
  ],
  authorizeUsage: [
    {
      label: "a hold on a buyer's credits",
      query: `mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { status credits } }`,
      vars: async () => ({ input: { organizationId: (await usageBuyer()).id, eventId: unique('hold'), credits: '0.5' } }),
      expect: only('act', 'OPERATOR'),
      effect: () => scalar(`SELECT count(*)::int FROM usage_holds`),
      check: (_c, data) => expect(data.authorizeUsage).toEqual({ status: 'OPEN', credits: '0.500000' }),
    },
  ],
  captureUsage: [
    {
      label: 'an open hold',
      query: `mutation($input: CaptureUsageInput!) { captureUsage(input: $input) { credits duplicate } }`,
      vars: async () => ({ input: { holdId: await openHold(), gpuType: 'H100', gpuSeconds: '36' } }),
      expect: only('act', 'OPERATOR'),
      effect: (v) => scalar(`SELECT status FROM usage_holds WHERE id = $1`, [(v.input as { holdId: string }).holdId]),
      check: (_c, data) => expect(data.captureUsage).toEqual({ credits: '0.010000', duplicate: false }),
    },
  ],
  voidUsageHold: [
    {
      label: 'an open hold',
      query: `mutation($id: ID!) { voidUsageHold(id: $id) { status } }`,
      vars: async () => ({ id: await openHold() }),
      expect: only('act', 'OPERATOR'),
      effect: (v) => scalar(`SELECT status FROM usage_holds WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.voidUsageHold.status).toBe('VOIDED'),
    },
  ],
  createApiKey: [
    {
      label: 'a key of its own',
      query: `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { name } } }`,
      vars: () => ({ input: { name: unique('key') } }),
      expect: only('act', 'ANY'),
      effect: () => scalar(`SELECT count(*)::int FROM api_keys`),
      check: (_c, data, vars) => expect(data.createApiKey.apiKey.name).toBe((vars.input as { name: string }).name),
    },
  ],
  revokeApiKey: [
    {
      label: 'own spare key',
      query: `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`,
      vars: async (caller) => ({ id: await spareKeyOf(ROLE[caller] ? orgs[caller as keyof typeof orgs] : orgs.buyer) }),
      expect: only('act', 'ANY'),
      effect: (v) => keyRevokedAt(v.id),
    },
    {
      label: "another organization's key",
      query: `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`,
      vars: async () => ({ id: await spareKeyOf(orgs.otherBuyer) }),
      expect: override(only('act', 'ANY'), { buyer: 'NOT_OWN', seller: 'NOT_OWN', lender: 'NOT_OWN', operator: 'NOT_OWN' }),
      effect: (v) => keyRevokedAt(v.id),
    },
  ],
  createInferenceEndpoint: [
    {
      label: 'on its own listing',
      query: `mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { id listing { id } } }`,
      vars: async () => ({ input: { listingId: await ownListing(), baseUrl: 'https://gpu.example.com/v1', models: [{ model: await gatewayModel() }] } }),
      expect: only('act', 'SELLER'),
      effect: () => scalar(`SELECT count(*)::int FROM inference_endpoints`),
      check: (_c, data, vars) => expect(data.createInferenceEndpoint.listing.id).toBe((vars.input as { listingId: string }).listingId),
    },
    {
      label: "on another seller's listing",
      query: `mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { id } }`,
      vars: async () => ({ input: { listingId: otherSellerListing, baseUrl: 'https://gpu.example.com/v1', models: [{ model: await gatewayModel() }] } }),
      expect: override(only('act', 'SELLER'), { seller: 'NOT_OWN' }),
      effect: () => scalar(`SELECT count(*)::int FROM inference_endpoints`),
    },
  ],
  setInferenceEndpointEnabled: [
    {
      label: "the seller's endpoint",
      query: `mutation($id: ID!) { setInferenceEndpointEnabled(id: $id, enabled: false) { enabled } }`,
      vars: async () => ({ id: await endpointOf(orgs.seller, await ownListing()) }),
      expect: only('act', 'SELLER', 'OPERATOR'),
      effect: (v) => scalar(`SELECT enabled FROM inference_endpoints WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.setInferenceEndpointEnabled.enabled).toBe(false),
    },
    {
      label: "another seller's endpoint",
      query: `mutation($id: ID!) { setInferenceEndpointEnabled(id: $id, enabled: false) { enabled } }`,
      vars: async () => ({ id: await endpointOf(orgs.otherSeller, otherSellerListing) }),
      expect: override(only('act', 'SELLER', 'OPERATOR'), { seller: 'NOT_OWN' }),
      effect: (v) => scalar(`SELECT enabled FROM inference_endpoints WHERE id = $1`, [v.id]),
    },
  ],
  requestFinancing: [
    {
      label: 'a request of its own',
      query: `mutation($input: FinancingRequestInput!) { requestFinancing(input: $input) { status borrower { id } } }`,
      vars: () => ({ input: { amount: '250.00', termMonths: 6, purpose: unique('purpose') } }),
      expect: only('act', 'BUYER'),
      effect: () => scalar(`SELECT count(*)::int FROM financing_requests`),
      check: (caller, data) => expect(data.requestFinancing).toEqual({ status: 'OPEN', borrower: { id: orgs[caller as keyof typeof orgs].id } }),
    },
  ],
  withdrawFinancingRequest: [
    {
      label: 'own OPEN request',
      query: `mutation($id: ID!) { withdrawFinancingRequest(id: $id) { status } }`,
      vars: async (caller) => ({ id: await openRequestOf(caller === 'suspendedBuyer' ? orgs.suspendedBuyer : orgs.buyer) }),
      expect: only('act', 'BUYER'),
      effect: (v) => scalar(`SELECT status FROM financing_requests WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.withdrawFinancingRequest.status).toBe('WITHDRAWN'),
    },
    {
      label: "another buyer's request",
      query: `mutation($id: ID!) { withdrawFinancingRequest(id: $id) { status } }`,
      vars: async () => ({ id: await openRequestOf(orgs.otherBuyer) }),
      expect: override(only('act', 'BUYER'), { buyer: 'NOT_OWN' }),
      effect: (v) => scalar(`SELECT status FROM financing_requests WHERE id = $1`, [v.id]),
    },
  ],
  requestPayout: [
    {
      label: 'out of its own wallet',
      query: `mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { status amount organization { id } } }`,
      vars: async (caller) => {
        // Fund the caller's wallet first (an allowed call must succeed outright).
        if (ROLE[caller] && caller !== 'operator') await deposit(t, orgs[caller as keyof typeof orgs], '1.00');
        return { input: { amount: '1.00', idempotencyKey: unique('payout') } };
      },
      expect: only('act', 'SELLER', 'LENDER'),
      effect: () => scalar(`SELECT count(*)::int FROM payouts`),
      check: (caller, data) => expect(data.requestPayout).toEqual({ status: 'PENDING', amount: '1.00', organization: { id: orgs[caller as keyof typeof orgs].id } }),
    },
  ],
  markPayoutPaid: [
    {
      label: 'a PENDING payout',
      query: `mutation($id: ID!) { markPayoutPaid(id: $id, reference: "wire-1") { status reference } }`,
      vars: async () => ({ id: await pendingPayoutOf(orgs.seller) }),
      expect: only('act', 'OPERATOR'),
      effect: (v) => scalar(`SELECT status FROM payouts WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.markPayoutPaid).toEqual({ status: 'PAID', reference: 'wire-1' }),
    },
  ],
  rejectPayout: [
    {
      label: 'a PENDING payout',
      query: `mutation($id: ID!) { rejectPayout(id: $id, reason: "unknown account") { status reason } }`,
      vars: async () => ({ id: await pendingPayoutOf(orgs.seller) }),
      expect: only('act', 'OPERATOR'),
      effect: (v) => scalar(`SELECT status FROM payouts WHERE id = $1`, [v.id]),
      check: (_c, data) => expect(data.rejectPayout).toEqual({ status: 'REJECTED', reason: 'unknown account' }),
    },
  ],
  advanceTestClock: [
    {
      label: 'a minute forward',
      query: `mutation($to: DateTime!) { advanceTestClock(to: $to) }`,
      vars: () => ({ to: new Date(clockBase + ++clockMinutes * 60_000).toISOString() }),
      expect: only('act', 'OPERATOR'),
      effect: () => scalar(`SELECT now FROM business_clock WHERE id = 1`).then((d) => new Date(d as string).toISOString()),
    },
  ],
};

it('every Query and Mutation field of the schema has a row in the access table', async () => {
  for (const file of ['schema.gql', t.schemaFile]) {
    const schema = await readFile(file, 'utf8');
    const operations = [...fieldsOf(schema, 'Query'), ...fieldsOf(schema, 'Mutation')].sort();
    expect(operations.length).toBeGreaterThanOrEqual(23);
    expect({ file, operations }).toEqual({ file, operations: Object.keys(TABLE).sort() });
  }
});

it('SPEC §2: each operation allows exactly the callers the rules allow', async () => {
  const failures: string[] = [];
  let calls = 0;
  for (const [operation, cases] of Object.entries(TABLE)) {
    for (const c of cases) {
      for (const caller of CALLERS) {
        const expected = c.expect[caller];
        const where = `${operation} (${c.label}) as ${caller}`;
        const vars = (await c.vars?.(caller)) ?? {};
        const before = await c.effect?.(vars);
        const res = await t.gql(c.query, vars, keyOf(caller));
        calls++;
        const after = await c.effect?.(vars);
        const code = res.code;
        if (expected === 'ok') {
          if (res.errors) {
            failures.push(`${where}: expected to be allowed, got ${code}: ${res.errors[0].message}`);
            continue;
          }
          {
            if (c.effect && JSON.stringify(before) === JSON.stringify(after)) failures.push(`${where}: allowed but changed nothing (${JSON.stringify(before)})`);
            try {
              await c.check?.(caller, res.data, vars);
            } catch (e) {
              failures.push(`${where}: ${(e as Error).message.split('\n').slice(0, 6).join(' ')}`);
            }
          }
        } else {
          const acceptable = expected === 'NOT_OWN' ? ['FORBIDDEN', 'NOT_FOUND'] : [expected];
          if (!code || !acceptable.includes(code)) failures.push(`${where}: expected ${acceptable.join(' or ')}, got ${code ?? 'success'}`);
          else if (res.data !== null && Object.values(res.data ?? {}).some((v) => v !== null)) failures.push(`${where}: refused but returned data`);
          if (c.effect && JSON.stringify(before) !== JSON.stringify(after)) {
            failures.push(`${where}: refused but changed ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
          }
        }
      }
    }
  }
  expect(failures).toEqual([]);
  expect(calls).toBe(Object.values(TABLE).flat().length * CALLERS.length);
});

it('the refused actions of the suspended buyer left its reservation and money alone; the ledger balances', async () => {
  expect(await scalar(`SELECT status FROM reservations WHERE id = $1`, [suspendedReservation])).toBe('ACTIVE');
  expect(await scalar(`SELECT status FROM reservations WHERE id = $1`, [otherBuyerReservation])).toBe('ACTIVE');
  expect(await scalar(`SELECT status FROM listings WHERE id = $1`, [otherSellerListing])).toBe('OPEN');
  // Another lender's and another buyer's facilities were left alone.
  expect(await facilityStatusOf(fac.other)).toBe('DEFAULTED');
  expect(await blockStatusOf(fac.other)).toBe('FROZEN');
  expect(await facilityStatusOf(fac.otherOffer)).toBe('OFFERED');
  expect(await facilityStatusOf(fac.suspendedOffer)).toBe('OFFERED');
  expect(await scalar(`SELECT count(*)::int FROM repayments WHERE facility_id = $1`, [fac.suspended])).toBe(0);
  const res = await t.gql(`{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY);
  expect(res.data.ledgerIntegrity).toEqual({ balanced: true, problems: [] });
});

/** SPEC §13: the statement as CSV is every organization's own; another's is the operator's. */
it('SPEC §2 for GET /v1/wallet/statement.csv', async () => {
  const failures: string[] = [];
  for (const caller of CALLERS) {
    const key = keyOf(caller);
    const own = t.http().get('/v1/wallet/statement.csv?month=2026-01');
    const other = t.http().get(`/v1/wallet/statement.csv?month=2026-01&organizationId=${orgs.otherBuyer.id}`);
    if (key) {
      own.set('authorization', `Bearer ${key}`);
      other.set('authorization', `Bearer ${key}`);
    }
    const [o, x] = [await own, await other];
    const expected = ROLE[caller] ? { own: 200, other: caller === 'operator' ? 200 : 403 } : { own: 401, other: 401 };
    if (o.status !== expected.own) failures.push(`${caller} own statement.csv: ${o.status}, expected ${expected.own}`);
    if (x.status !== expected.other) failures.push(`${caller} another's statement.csv: ${x.status}, expected ${expected.other}`);
    if (o.status === 200) expect(o.text.startsWith('date,kind,reference,amount,balance_after,entry_id')).toBe(true);
  }
  expect(failures).toEqual([]);
});

/**
 * The REST endpoints, for every caller: POST /v1/usage is the operator's (the gateway); the CSV
 * report is a buyer's own (a suspended buyer may still read it) or the operator's.
 */
it('SPEC §2 for the REST endpoints: /v1/usage and /v1/usage/report.csv', async () => {
  const expected: Record<Caller, { usage: number; csv: number }> = {
    anonymous: { usage: 401, csv: 401 },
    unknownKey: { usage: 401, csv: 401 },
    buyer: { usage: 403, csv: 200 },
    seller: { usage: 403, csv: 403 },
    lender: { usage: 403, csv: 403 },
    pendingSeller: { usage: 403, csv: 403 },
    suspendedBuyer: { usage: 403, csv: 200 },
    operator: { usage: 200, csv: 200 },
  };
  const failures: string[] = [];
  for (const caller of CALLERS) {
    const key = keyOf(caller);
    const usage = t.http().post('/v1/usage');
    const csv = t.http().get('/v1/usage/report.csv?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&groupBy=DAY');
    if (key) {
      usage.set('authorization', `Bearer ${key}`);
      csv.set('authorization', `Bearer ${key}`);
    }
    // An event for an unknown buyer: allowed callers get 200 with a per-event rejection, nothing charged.
    const u = await usage.send({ events: [{ organizationId: '00000000-0000-4000-8000-000000000000', eventId: `access-${caller}`, gpuType: 'H100', gpuSeconds: '1' }] });
    const c = await csv;
    if (u.status !== expected[caller].usage) failures.push(`${caller} POST /v1/usage: ${u.status}, expected ${expected[caller].usage}`);
    if (c.status !== expected[caller].csv) failures.push(`${caller} GET report.csv: ${c.status}, expected ${expected[caller].csv}`);
    if (u.status === 401 || u.status === 403) expect(u.body.error.code).toBe(u.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
    if (u.status === 200) expect(u.body.results[0]).toMatchObject({ status: 'rejected', code: 'NOT_FOUND' });
    if (c.status === 200) expect(c.text.startsWith('key,events,credits')).toBe(true);
  }
  expect(failures).toEqual([]);
});
