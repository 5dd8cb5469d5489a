import { Decimal } from '@ccx/core';
import { blockAccountCode, platformAccountCode, walletAccountCode } from '../../apps/api/src/ledger/chart-of-accounts.js';
import { OPERATOR_KEY, startTestApp, type TestApp } from './app.js';

/** Helpers that drive the marketplace through the public GraphQL API, as a user would. */
export interface Org {
  id: string;
  key: string;
}

export async function register(t: TestApp, role: 'BUYER' | 'SELLER' | 'LENDER', name = `${role.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<Org> {
  const res = await t.gql(
    `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id status } } }`,
    { input: { name, role } },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const org = { id: res.data.registerOrganization.organization.id, key: res.data.registerOrganization.apiKey };
  if (role !== 'BUYER') {
    const ok = await t.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR_KEY);
    if (ok.errors) throw new Error(JSON.stringify(ok.errors));
  }
  return org;
}

export async function deposit(t: TestApp, org: Org, amount: string, reference = `ref-${Math.random().toString(36).slice(2)}`): Promise<void> {
  const res = await t.gql(
    `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
    { input: { organizationId: org.id, amount, reference } },
    OPERATOR_KEY,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export async function walletOf(t: TestApp, org: Org): Promise<string> {
  const res = await t.gql(`{ wallet { available } }`, {}, org.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.wallet.available;
}

export interface ListingArgs {
  gpuType?: string;
  region?: string;
  gpuHours: string;
  wholesalePricePerGpuHour: string;
  availableFrom?: string;
  availableUntil?: string;
}

export async function createListing(t: TestApp, seller: Org, args: ListingArgs): Promise<any> {
  const res = await t.gql(
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id status totalCredits wholesaleCostPerCredit availableCredits allocatedCredits } }`,
    {
      input: {
        gpuType: args.gpuType ?? 'H100',
        region: args.region ?? 'us-east',
        gpuHours: args.gpuHours,
        wholesalePricePerGpuHour: args.wholesalePricePerGpuHour,
        availableFrom: args.availableFrom ?? '2026-01-01T00:00:00Z',
        availableUntil: args.availableUntil ?? '2027-12-31T00:00:00Z',
      },
    },
    seller.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.createListing;
}

export async function integrity(t: TestApp): Promise<{ balanced: boolean; problems: string[] }> {
  const res = await t.gql(`{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.ledgerIntegrity;
}

/** Every field of a Listing, for tests that compare listings before and after an action. */
export const LISTING_FIELDS = `id seller { id name role } gpuType region gpuHours wholesalePricePerGpuHour wholesaleCostPerCredit
  totalCredits allocatedCredits availableCredits availableFrom availableUntil status createdAt`;

export interface PurchaseArgs {
  maxUnitPrice?: string;
  idempotencyKey?: string;
}

/** purchaseCredits as the buyer; the raw response, so tests can assert error codes. */
export function purchase(t: TestApp, buyer: Org, credits: string, args: PurchaseArgs = {}) {
  return t.gql(
    `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id type credits unitPrice totalPrice block { id type status granted remaining unitPrice expiresAt } } }`,
    {
      input: {
        credits,
        idempotencyKey: args.idempotencyKey ?? `buy-${Math.random().toString(36).slice(2)}`,
        ...(args.maxUnitPrice !== undefined ? { maxUnitPrice: args.maxUnitPrice } : {}),
      },
    },
    buyer.key,
  );
}

/** Walks the whole `listings` connection (oldest first) and returns the nodes. */
export async function allListings(t: TestApp, filter: Record<string, string> = {}): Promise<any[]> {
  const nodes: any[] = [];
  let after: string | null = null;
  for (;;) {
    const res: any = await t.gql(
      `query($filter: ListingFilter, $after: String) { listings(filter: $filter, first: 100, after: $after) { edges { node { ${LISTING_FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
      { filter, after },
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    nodes.push(...res.data.listings.edges.map((e: any) => e.node));
    if (!res.data.listings.pageInfo.hasNextPage) return nodes;
    after = res.data.listings.pageInfo.endCursor;
  }
}

export async function listingById(t: TestApp, id: string): Promise<any> {
  const found = (await allListings(t)).find((l) => l.id === id);
  if (!found) throw new Error(`listing ${id} is not in the listings connection`);
  return found;
}

export async function listingCount(t: TestApp, filter: Record<string, string> = {}): Promise<number> {
  const res = await t.gql(`query($filter: ListingFilter) { listings(filter: $filter, first: 1) { totalCount } }`, { filter });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.listings.totalCount;
}

/** How many ledger accounts and transactions exist (from ledgerIntegrity). */
export async function ledgerCounts(t: TestApp): Promise<{ accountsChecked: number; transactionsChecked: number }> {
  const res = await t.gql(`{ ledgerIntegrity { accountsChecked transactionsChecked } }`, {}, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.ledgerIntegrity;
}

export async function advanceClock(t: TestApp, to: string): Promise<void> {
  const res = await t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export interface QuoteArgs {
  type: 'STANDARD' | 'RESERVED' | 'FINANCED';
  credits: unknown;
  termMonths?: unknown;
}

/** quote (public) with the raw response. */
export function quote(t: TestApp, input: QuoteArgs, key: string | null = null) {
  return t.gql(`query($input: QuoteInput!) { quote(input: $input) { type credits unitPrice totalPrice wholesaleCost discountRate } }`, { input }, key);
}

export async function marketStats(t: TestApp): Promise<{ totalCredits: string; allocatedCredits: string; utilization: string; standardPricePerCredit: string | null }> {
  const res = await t.gql(`{ market { totalCredits allocatedCredits utilization standardPricePerCredit } }`);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.market;
}

/** The buyer's credit blocks, as the buyer sees them. */
export async function blocksOf(t: TestApp, buyer: Org): Promise<any[]> {
  const res = await t.gql(`{ creditBalance { available blocks { id type status granted remaining unitPrice expiresAt } } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance.blocks;
}

/** Registers an organization without approving it (sellers and lenders stay PENDING). */
export async function registerPending(t: TestApp, role: 'BUYER' | 'SELLER' | 'LENDER', name = `${role.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<Org> {
  const res = await t.gql(
    `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`,
    { input: { name, role } },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return { id: res.data.registerOrganization.organization.id, key: res.data.registerOrganization.apiKey };
}

/** The operator suspends an organization. */
export async function suspend(t: TestApp, org: Org): Promise<void> {
  const res = await t.gql(`mutation($id: ID!) { suspendOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

/** The operator approves (or re-activates) an organization. */
export async function approve(t: TestApp, org: Org): Promise<void> {
  const res = await t.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

/** The operator organization's id (from `me` with the operator key). */
export async function operatorId(t: TestApp): Promise<string> {
  const res = await t.gql(`{ me { id } }`, {}, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.me.id;
}

/** A buyer reserves credits; returns the reservation's id. */
export async function reserve(t: TestApp, buyer: Org, creditsPerMonth: string, termMonths: number, idempotencyKey = `res-${Math.random().toString(36).slice(2)}`): Promise<string> {
  const res = await t.gql(
    `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { id } }`,
    { input: { creditsPerMonth, termMonths, idempotencyKey } },
    buyer.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.reserveCredits.id;
}

/** A buyer's credit balance (available, held, frozen and the number of blocks). */
export async function creditsOf(t: TestApp, buyer: Org): Promise<{ available: string; held: string; frozen: string; blocks: number }> {
  const res = await t.gql(`{ creditBalance { available held frozen blocks { id } } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const b = res.data.creditBalance;
  return { available: b.available, held: b.held, frozen: b.frozen, blocks: b.blocks.length };
}

// ---------------------------------------------------------------------------------------------
// Ledger reads, market snapshots and expected-value math for the purchase and reservation specs.
// Balances are read straight from the ledger tables (not through the API), so tests can reconcile
// what the API shows against the ledger.
// ---------------------------------------------------------------------------------------------

/** The posted balance of a ledger account by code (sum over its shards); 0 when it does not exist. */
export async function ledgerBalance(t: TestApp, code: string): Promise<Decimal> {
  const [row] = await t.db.dataSource.query(
    `SELECT coalesce(sum(b.posted), 0)::text AS posted FROM ledger_accounts a LEFT JOIN ledger_balances b ON b.account_id = a.id WHERE a.code = $1`,
    [code],
  );
  return new Decimal(row?.posted ?? '0');
}

export const walletCode = (org: Org | string) => walletAccountCode(typeof org === 'string' ? org : org.id);
export const REVENUE = platformAccountCode('revenue');
export const EXPIRED_CREDITS = platformAccountCode('expired');

/** Balances of several accounts at once, keyed by code. */
export async function ledgerBalances(t: TestApp, codes: string[]): Promise<Record<string, Decimal>> {
  const out: Record<string, Decimal> = {};
  for (const code of codes) out[code] = await ledgerBalance(t, code);
  return out;
}

export async function ledgerTransactionCount(t: TestApp): Promise<number> {
  const [row] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_transactions`);
  return row.n;
}

/** A buyer's credit balance with its blocks. */
export async function creditBalanceOf(t: TestApp, org: Org): Promise<any> {
  const res = await t.gql(
    `{ creditBalance { available held frozen blocks { id type status granted remaining unitPrice expiresAt createdAt } } }`,
    {},
    org.key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.creditBalance;
}

/**
 * Everything a failed request must leave untouched: every ledger account's balance, the number
 * of ledger transactions and entries, listings' allocation, blocks, purchases, reservations and
 * allocations. Compare two snapshots with toEqual.
 */
export async function marketState(t: TestApp): Promise<Record<string, unknown>> {
  const q = (sql: string) => t.db.dataSource.query(sql);
  const [counts] = await q(
    `SELECT (SELECT count(*)::int FROM ledger_transactions) AS transactions,
            (SELECT count(*)::int FROM ledger_entries) AS entries,
            (SELECT count(*)::int FROM ledger_accounts) AS accounts,
            (SELECT count(*)::int FROM credit_blocks) AS blocks,
            (SELECT count(*)::int FROM purchases) AS purchases,
            (SELECT count(*)::int FROM allocations) AS allocations`,
  );
  const balances = await q(
    `SELECT a.code, sum(b.posted)::text AS posted, sum(b.held)::text AS held FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id GROUP BY a.code ORDER BY a.code`,
  );
  const listings = await q(`SELECT id, status, allocated_credits::text AS allocated, withdrawn_credits::text AS withdrawn FROM listings ORDER BY id`);
  const blocks = await q(`SELECT id, status FROM credit_blocks ORDER BY id`);
  const reservations = await q(
    `SELECT id, status, months_delivered, next_delivery_at, early_termination_fee::text AS fee FROM reservations ORDER BY id`,
  );
  const allocations = await q(`SELECT id, delivered::text AS delivered, released::text AS released FROM allocations ORDER BY id`);
  return { counts, balances, listings, blocks, reservations, allocations };
}

/** Expected-value math, independent of the server: SPEC §1 and §5. */
export const D = (v: string | number | Decimal) => new Decimal(v);
export const round2 = (v: Decimal) => v.decimalPlaces(2, Decimal.ROUND_HALF_UP);
export const round6 = (v: Decimal) => v.decimalPlaces(6, Decimal.ROUND_HALF_UP);
export const usd = (v: Decimal) => round2(v).toFixed(2);
export const cr = (v: Decimal) => v.toFixed(6);

/**
 * SPEC §5 standard unit price of a fill given as [credits, wholesaleCostPerCredit] parts:
 * wholesale ÷ q × 1.20 × (1 + max(0, u − 0.5)) × (0.90 at night, else 1), 6 decimals HALF_UP.
 */
export function expectedStandardUnit(parts: [string | Decimal, string | Decimal][], u: Decimal | string = '0', night = false): Decimal {
  const q = parts.reduce((s, [c]) => s.plus(c), D(0));
  const w = parts.reduce((s, [c, p]) => s.plus(D(c).times(p)), D(0));
  const demand = D(1).plus(Decimal.max(0, D(u).minus('0.5')));
  return round6(w.div(q).times('1.20').times(demand).times(night ? '0.90' : '1'));
}

/** SPEC §5 term discount bands. */
export function expectedTermDiscount(termMonths: number): Decimal {
  if (termMonths >= 12) return D('0.25');
  if (termMonths >= 6) return D('0.15');
  if (termMonths >= 3) return D('0.10');
  return D('0.05');
}

// ---------------------------------------------------------------------------------------------
// Usage and metering (SPEC §8): the operator's calls, the batch endpoint, and what they leave in
// the ledger and in usage_events. Expected costs are computed here, independently of the server.
// ---------------------------------------------------------------------------------------------

export const CONSUMED = platformAccountCode('consumed');
export const blockAccount = blockAccountCode;

/** SPEC §1 default GPU catalog (credits per GPU-hour). */
export const GPU_CATALOG: Record<string, string> = { H100: '1.0', H200: '1.4', B200: '2.2', A100: '0.5', L40S: '0.35' };

/** SPEC §8: inputTokens × in ÷ 10^6 + outputTokens × out ÷ 10^6, rounded UP to 6 decimals. */
export function expectedTokenCost(inputTokens: number, outputTokens: number, inPerMillion: string, outPerMillion: string): Decimal {
  return D(inputTokens).times(inPerMillion).plus(D(outputTokens).times(outPerMillion)).div(1_000_000).decimalPlaces(6, Decimal.ROUND_UP);
}

/** SPEC §8: gpuSeconds ÷ 3600 × creditsPerGpuHour, rounded UP to 6 decimals. */
export function expectedGpuCost(gpuSeconds: string, creditsPerGpuHour: string): Decimal {
  return D(gpuSeconds).div(3600).times(creditsPerGpuHour).decimalPlaces(6, Decimal.ROUND_UP);
}

/** H100 time (1 credit per GPU-hour) that costs exactly `credits` (whole micro-credits). */
export const h100For = (credits: string | Decimal) => ({ gpuType: 'H100', gpuSeconds: D(credits).times(3600).toFixed() });

export async function upsertModel(t: TestApp, id: string, inputCreditsPerMillionTokens: string, outputCreditsPerMillionTokens: string): Promise<void> {
  const res = await t.gql(
    `mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`,
    { input: { id, inputCreditsPerMillionTokens, outputCreditsPerMillionTokens } },
    OPERATOR_KEY,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export async function upsertGpuType(t: TestApp, name: string, creditsPerGpuHour: string): Promise<void> {
  const res = await t.gql(`mutation($input: GpuTypeInput!) { upsertGpuType(input: $input) { name } }`, { input: { name, creditsPerGpuHour } }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export const USAGE_RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { eventId credits duplicate } }`;

/** recordUsage (raw response, so tests can assert codes); the operator's key unless told. */
export function recordUsage(t: TestApp, input: Record<string, unknown>, key: string | null = OPERATOR_KEY) {
  return t.gql(USAGE_RECORD, { input }, key);
}

/** recordUsage that must succeed; the UsageRecord. */
export async function recordUsageOk(t: TestApp, input: Record<string, unknown>): Promise<{ eventId: string; credits: string; duplicate: boolean }> {
  const res = await recordUsage(t, input);
  if (res.errors) throw new Error(`recordUsage ${JSON.stringify(input)}: ${JSON.stringify(res.errors)}`);
  return res.data.recordUsage;
}

/** POST /v1/usage with a JSON body (any value) and a key (the operator's unless told). */
export function postUsage(t: TestApp, body: unknown, key: string | null = OPERATOR_KEY) {
  const req = t.http().post('/v1/usage').set('content-type', 'application/json');
  if (key) req.set('authorization', `Bearer ${key}`);
  return req.send(typeof body === 'string' ? body : JSON.stringify(body));
}

export const HOLD_FIELDS = 'id credits status expiresAt';

export function authorizeUsage(t: TestApp, input: { organizationId: string; eventId: string; credits: string }, key: string | null = OPERATOR_KEY) {
  return t.gql(`mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { ${HOLD_FIELDS} } }`, { input }, key);
}

export async function authorizeUsageOk(t: TestApp, input: { organizationId: string; eventId: string; credits: string }): Promise<{ id: string; credits: string; status: string; expiresAt: string }> {
  const res = await authorizeUsage(t, input);
  if (res.errors) throw new Error(`authorizeUsage ${JSON.stringify(input)}: ${JSON.stringify(res.errors)}`);
  return res.data.authorizeUsage;
}

export function captureUsage(t: TestApp, input: Record<string, unknown>, key: string | null = OPERATOR_KEY) {
  return t.gql(`mutation($input: CaptureUsageInput!) { captureUsage(input: $input) { eventId credits duplicate } }`, { input }, key);
}

export function voidUsageHold(t: TestApp, id: string, key: string | null = OPERATOR_KEY) {
  return t.gql(`mutation($id: ID!) { voidUsageHold(id: $id) { ${HOLD_FIELDS} } }`, { id }, key);
}

export interface UsageReportArgs {
  from: string;
  to: string;
  groupBy: 'DAY' | 'MODEL';
}

export function usageReport(t: TestApp, input: UsageReportArgs, key: string | null, organizationId?: string) {
  return organizationId === undefined
    ? t.gql(`query($input: UsageReportInput!) { usageReport(input: $input) { key events credits } }`, { input }, key)
    : t.gql(`query($input: UsageReportInput!, $org: ID) { usageReport(input: $input, organizationId: $org) { key events credits } }`, { input, org: organizationId }, key);
}

/** A buyer with `deposit` in its wallet and one STANDARD block per entry of `blocks`, in order. */
export async function fundedBuyer(t: TestApp, blocks: string[] = [], money = '100000.00'): Promise<Org> {
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, money);
  for (const credits of blocks) {
    const res = await purchase(t, buyer, credits);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
  }
  return buyer;
}

/** The buyer's stored usage events (what was charged, at which rate), oldest first. */
export async function usageEventsOf(t: TestApp, org: Org | string): Promise<any[]> {
  return t.db.dataSource.query(
    `SELECT event_id, model, input_tokens::text AS input_tokens, output_tokens::text AS output_tokens, gpu_type, gpu_seconds::text AS gpu_seconds,
       input_rate::text AS input_rate, output_rate::text AS output_rate, credits_per_gpu_hour::text AS credits_per_gpu_hour,
       credits::text AS credits, occurred_at, hold_id
     FROM usage_events WHERE organization_id = $1 ORDER BY id`,
    [typeof org === 'string' ? org : org.id],
  );
}

/** The current business clock. */
export async function clockNow(t: TestApp): Promise<Date> {
  const res = await t.gql(`{ clock }`);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return new Date(res.data.clock);
}

/** Starts an app for one describe block and checks the ledger after each of its tests. */
export function appPerBlock(): () => TestApp {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
  return () => t;
}
