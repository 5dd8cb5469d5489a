import { Decimal } from '@ccx/core';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { acceptOk, clockTo, offerOk, repayOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { reserve } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { deposit } from './support/drivers/wallets.js';

/** SPEC §13: every movement of a USD wallet from the ledger, and monthly statements that reconcile to it. */
let t: TestApp;
let seller: Org;
let buyer: Org;
let borrower: Org;
let lender: Org;
let reservationId: string;
let facilityId: string;
let purchaseId: string;

const ENTRY = `id kind amount balanceAfter reference createdAt`;
async function allEntries(key: string, organizationId?: string, first = 3): Promise<any[]> {
  const out: any[] = [];
  let after: string | null = null;
  for (;;) {
    const res: any = await t.gql(
      `query($first: Int, $after: String, $org: ID) { walletEntries(first: $first, after: $after, organizationId: $org) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${ENTRY} } } } }`,
      { first, after, org: organizationId },
      key,
    );
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    out.push(...res.data.walletEntries.edges.map((e: any) => e.node));
    if (!res.data.walletEntries.pageInfo.hasNextPage) {
      expect(out.length).toBe(res.data.walletEntries.totalCount);
      return out;
    }
    after = res.data.walletEntries.pageInfo.endCursor;
  }
}
const statement = async (key: string, month: string, organizationId?: string) => {
  const res = await t.gql(
    `query($month: String!, $org: ID) { statement(month: $month, organizationId: $org) { month openingBalance closingBalance entries { ${ENTRY} } } }`,
    { month, org: organizationId },
    key,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.statement;
};
const walletPosted = async (org: Org) => {
  const [row] = await t.db.dataSource.query(
    `SELECT coalesce(sum(b.posted), 0)::text AS posted FROM ledger_balances b JOIN organizations o ON o.wallet_account_id = b.account_id WHERE o.id = $1`,
    [org.id],
  );
  return new Decimal(row.posted).toFixed(2);
};
const sum = (entries: { amount: string }[]) => entries.reduce((s, e) => s.plus(e.amount), new Decimal(0)).toFixed(2);

beforeAll(async () => {
  t = await startTestApp();
  seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.00' });
  buyer = await register(t, 'BUYER');
  borrower = await register(t, 'BUYER');
  lender = await register(t, 'LENDER');
  await deposit(t, buyer, '1000.00', 'wire-2026-001');
  await deposit(t, lender, '500.00');
  const bought = await t.gql(`mutation { purchaseCredits(input: { credits: "100", idempotencyKey: "stmt-buy" }) { id } }`, {}, buyer.key);
  purchaseId = bought.data.purchaseCredits.id;
  reservationId = await reserve(t, buyer, '10', 3);
  facilityId = (await acceptOk(t, borrower, (await offerOk(t, lender, { borrowerId: borrower.id, principal: '100.00', apr: '0.12', termMonths: 3 })).id)).id;
  await deposit(t, borrower, '50.00');
  await repayOk(t, borrower, facilityId, '10.00');
  // February: the reservation's second delivery, then a cancellation with its fee.
  await clockTo(t, '2026-02-10T12:00:00.000Z');
  const cancelled = await t.gql(`mutation($id: ID!) { cancelReservation(id: $id) { status } }`, { id: reservationId }, buyer.key);
  expect(cancelled.errors).toBeUndefined();
});
afterAll(async () => {
  await t.close();
});

it('lists every movement newest first, each kind named, and the amounts sum to the wallet balance', async () => {
  const entries = await allEntries(buyer.key);
  expect(entries.map((e) => e.kind)).toEqual(['termination_fee', 'reservation_delivery', 'reservation_delivery', 'purchase', 'deposit']);
  expect(entries.map((e) => e.reference)).toEqual([
    `reservation:${reservationId}`,
    `reservation:${reservationId}`,
    `reservation:${reservationId}`,
    `purchase:${purchaseId}`,
    'deposit:wire-2026-001',
  ]);
  expect(entries.every((e) => new Decimal(e.amount).lt(0) === (e.kind !== 'deposit'))).toBe(true);
  // Newest first; each balance is the one before it plus the entry.
  for (let i = 0; i < entries.length; i++) {
    const before = i + 1 < entries.length ? entries[i + 1].balanceAfter : '0.00';
    expect(new Decimal(before).plus(entries[i].amount).toFixed(2)).toBe(entries[i].balanceAfter);
    if (i + 1 < entries.length) expect(entries[i].createdAt >= entries[i + 1].createdAt).toBe(true);
  }
  for (const org of [buyer, seller, lender, borrower]) {
    const mine = await allEntries(org.key);
    expect({ org: org.id, sum: sum(mine) }).toEqual({ org: org.id, sum: await walletPosted(org) });
    expect(mine[0].balanceAfter).toBe(await walletPosted(org));
    expect(mine[0].balanceAfter).toBe((await t.gql(`{ wallet { available } }`, {}, org.key)).data.wallet.available);
  }
});

it("names each role's movements: sale proceeds, facility funding and its fee, repayments", async () => {
  const sellerKinds = new Set((await allEntries(seller.key)).map((e) => e.kind));
  expect([...sellerKinds].sort()).toEqual(['sale_proceeds']);
  const lenderEntries = await allEntries(lender.key);
  expect(lenderEntries.map((e) => [e.kind, e.amount, e.reference])).toEqual([
    ['repayment', '10.00', `facility:${facilityId}`],
    ['financing_fee', '-2.00', `facility:${facilityId}`],
    ['facility_funding', '-98.00', `facility:${facilityId}`],
    ['deposit', '500.00', expect.stringMatching(/^deposit:/)],
  ]);
  expect((await allEntries(borrower.key)).map((e) => [e.kind, e.amount])).toEqual([['repayment', '-10.00'], ['deposit', '50.00']]);
});

it('a monthly statement: opening + entries = closing = the ledger balance at the end of the month', async () => {
  const all = await allEntries(buyer.key, undefined, 200);
  const jan = await statement(buyer.key, '2026-01');
  const feb = await statement(buyer.key, '2026-02');
  expect(jan.openingBalance).toBe('0.00');
  expect(jan.entries.map((e: any) => e.kind)).toEqual(['deposit', 'purchase', 'reservation_delivery']);
  expect(new Decimal(jan.openingBalance).plus(sum(jan.entries)).toFixed(2)).toBe(jan.closingBalance);
  expect(jan.closingBalance).toBe(jan.entries.at(-1).balanceAfter);
  // The ledger's own figure at the end of January.
  const [row] = await t.db.dataSource.query(
    `SELECT coalesce(sum(e.amount), 0)::text AS total FROM ledger_entries e JOIN organizations o ON o.wallet_account_id = e.account_id
      WHERE o.id = $1 AND e.effective_at < '2026-02-01T00:00:00Z'`,
    [buyer.id],
  );
  expect(jan.closingBalance).toBe(new Decimal(row.total).toFixed(2));
  expect(feb.openingBalance).toBe(jan.closingBalance);
  expect(feb.closingBalance).toBe(await walletPosted(buyer));
  expect([...jan.entries, ...feb.entries].map((e: any) => e.id)).toEqual(all.map((e) => e.id).reverse());
  expect(await statement(buyer.key, '2025-12')).toEqual({ month: '2025-12', openingBalance: '0.00', closingBalance: '0.00', entries: [] });
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

it('the operator may name any organization; others read only their own', async () => {
  expect(await allEntries(OPERATOR_KEY, buyer.id)).toEqual(await allEntries(buyer.key));
  expect((await statement(OPERATOR_KEY, '2026-01', lender.id)).closingBalance).toBe((await statement(lender.key, '2026-01')).closingBalance);
  expect((await t.gql(`query($org: ID) { walletEntries(organizationId: $org) { totalCount } }`, { org: buyer.id }, seller.key)).code).toBe('FORBIDDEN');
  expect((await t.gql(`query($org: ID) { statement(month: "2026-01", organizationId: $org) { month } }`, { org: buyer.id }, lender.key)).code).toBe('FORBIDDEN');
  expect((await t.gql(`query($org: ID) { walletEntries(organizationId: $org) { totalCount } }`, { org: buyer.id }, buyer.key)).errors).toBeUndefined();
});

it('refuses a bad month, page size or cursor', async () => {
  for (const month of ['2026-13', '2026-1', '26-01', '2026-01-01', '']) {
    expect((await t.gql(`query($m: String!) { statement(month: $m) { month } }`, { m: month }, buyer.key)).code).toBe('BAD_USER_INPUT');
  }
  for (const first of [0, 201]) {
    expect((await t.gql(`query($f: Int) { walletEntries(first: $f) { totalCount } }`, { f: first }, buyer.key)).code).toBe('BAD_USER_INPUT');
  }
  const sellers = await allEntries(seller.key);
  for (const after of ['abc', sellers[0].id]) {
    expect((await t.gql(`query($a: String) { walletEntries(after: $a) { totalCount } }`, { a: after }, buyer.key)).code).toBe('BAD_USER_INPUT');
  }
});

it('GET /v1/wallet/statement.csv: the same statement as CSV, with the same access rules', async () => {
  const jan = await statement(buyer.key, '2026-01');
  const res = await t.http().get('/v1/wallet/statement.csv?month=2026-01').set('authorization', `Bearer ${buyer.key}`);
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/csv/);
  const lines = res.text.trim().split('\r\n');
  expect(lines[0]).toBe('date,kind,reference,amount,balance_after,entry_id');
  expect(lines[1]).toBe(`2026-01-01T00:00:00.000Z,opening_balance,,,${jan.openingBalance},`);
  expect(lines.slice(2, -1)).toEqual(jan.entries.map((e: any) => `${e.createdAt},${e.kind},${e.reference},${e.amount},${e.balanceAfter},${e.id}`));
  expect(lines.at(-1)).toBe(`2026-02-01T00:00:00.000Z,closing_balance,,,${jan.closingBalance},`);

  const asOperator = await t.http().get(`/v1/wallet/statement.csv?month=2026-01&organizationId=${buyer.id}`).set('authorization', `Bearer ${OPERATOR_KEY}`);
  expect(asOperator.text).toBe(res.text);
  expect((await t.http().get(`/v1/wallet/statement.csv?month=2026-01&organizationId=${buyer.id}`).set('authorization', `Bearer ${seller.key}`)).status).toBe(403);
  expect((await t.http().get('/v1/wallet/statement.csv?month=2026-01')).status).toBe(401);
  const bad = await t.http().get('/v1/wallet/statement.csv?month=january').set('authorization', `Bearer ${buyer.key}`);
  expect(bad.status).toBe(400);
  expect(bad.body.error.code).toBe('BAD_USER_INPUT');
});
