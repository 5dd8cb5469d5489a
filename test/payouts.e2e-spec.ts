import { Decimal } from '@ccx/core';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register, registerPending } from './support/drivers/organizations.js';
import { deposit } from './support/drivers/wallets.js';

/** SPEC §13: payouts out of sellers' and lenders' wallets, idempotent and race-safe. */
let t: TestApp;

const FIELDS = `id amount status reference reason createdAt organization { id }`;
const requestPayout = (org: Org, amount: string, idempotencyKey: string) =>
  t.gql(`mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { ${FIELDS} } }`, { input: { amount, idempotencyKey } }, org.key);
const markPaid = (id: string, reference: string) =>
  t.gql(`mutation($id: ID!, $reference: String!) { markPayoutPaid(id: $id, reference: $reference) { ${FIELDS} } }`, { id, reference }, OPERATOR_KEY);
const reject = (id: string, reason: string) =>
  t.gql(`mutation($id: ID!, $reason: String!) { rejectPayout(id: $id, reason: $reason) { ${FIELDS} } }`, { id, reason }, OPERATOR_KEY);
const walletOf = async (org: Org) => (await t.gql(`{ wallet { available } }`, {}, org.key)).data.wallet.available as string;
const pendingPayoutsAccount = async () => {
  const [row] = await t.db.dataSource.query(
    `SELECT coalesce(sum(b.posted), 0)::text AS posted FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id WHERE a.code = 'platform:pending-payouts:USD'`,
  );
  return new Decimal(row.posted).toFixed(2);
};
const pendingTotal = async () => {
  const [row] = await t.db.dataSource.query(`SELECT coalesce(sum(amount), 0)::text AS total FROM payouts WHERE status = 'PENDING'`);
  return new Decimal(row.total).toFixed(2);
};
const entries = async (org: Org) =>
  (await t.gql(`{ walletEntries(first: 200) { edges { node { kind amount balanceAfter reference } } } }`, {}, org.key)).data.walletEntries.edges.map((e: any) => e.node);

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

it('the amount leaves the wallet at once; PAID keeps it out, REJECTED returns it; the wallet history shows each step', async () => {
  const seller = await register(t, 'SELLER');
  await deposit(t, seller, '300.00');
  const a = await requestPayout(seller, '100.00', 'a');
  expect(a.errors).toBeUndefined();
  expect(a.data.requestPayout).toMatchObject({ amount: '100.00', status: 'PENDING', reference: null, reason: null, organization: { id: seller.id } });
  expect(await walletOf(seller)).toBe('200.00');
  const b = (await requestPayout(seller, '50.25', 'b')).data.requestPayout;
  expect(await walletOf(seller)).toBe('149.75');
  expect(await pendingPayoutsAccount()).toBe(await pendingTotal());

  const paid = await markPaid(a.data.requestPayout.id, 'SEPA-0001');
  expect(paid.data.markPayoutPaid).toMatchObject({ status: 'PAID', reference: 'SEPA-0001' });
  expect(await walletOf(seller)).toBe('149.75');
  const rejected = await reject(b.id, 'the bank account is closed');
  expect(rejected.data.rejectPayout).toMatchObject({ status: 'REJECTED', reason: 'the bank account is closed' });
  expect(await walletOf(seller)).toBe('200.00');
  expect(await pendingPayoutsAccount()).toBe('0.00');

  // Final states: the same decision again is a safe retry; another one is refused.
  expect((await markPaid(a.data.requestPayout.id, 'SEPA-0001')).data.markPayoutPaid.status).toBe('PAID');
  expect((await markPaid(a.data.requestPayout.id, 'SEPA-0002')).code).toBe('INVALID_STATE');
  expect((await reject(a.data.requestPayout.id, 'late')).code).toBe('INVALID_STATE');
  expect((await markPaid(b.id, 'SEPA-0003')).code).toBe('INVALID_STATE');
  expect(await walletOf(seller)).toBe('200.00');

  expect((await entries(seller)).map((e: any) => [e.kind, e.amount, e.balanceAfter, e.reference])).toEqual([
    ['payout_returned', '50.25', '200.00', `payout:${b.id}`],
    ['payout', '-50.25', '149.75', `payout:${b.id}`],
    ['payout', '-100.00', '200.00', `payout:${a.data.requestPayout.id}`],
    ['deposit', '300.00', '300.00', expect.stringMatching(/^deposit:/)],
  ]);
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

it('INSUFFICIENT_FUNDS in the user\'s terms; validation; the same key returns the same payout, another amount conflicts', async () => {
  const lender = await register(t, 'LENDER');
  await deposit(t, lender, '40.00');
  const tooMuch = await requestPayout(lender, '40.01', 'big');
  expect(tooMuch.code).toBe('INSUFFICIENT_FUNDS');
  expect(tooMuch.errors![0].message).toBe('the wallet holds 40.00 USD; this payout is 40.01 USD');
  for (const amount of ['0', '-1.00', '1.001', '1e2', 'x']) expect((await requestPayout(lender, amount, `bad-${amount}`)).code).toBe('BAD_USER_INPUT');
  expect((await requestPayout(lender, '1.00', '')).code).toBe('BAD_USER_INPUT');

  const first = (await requestPayout(lender, '15.00', 'k1')).data.requestPayout;
  const again = (await requestPayout(lender, '15.00', 'k1')).data.requestPayout;
  expect(again).toEqual(first);
  expect((await requestPayout(lender, '15.01', 'k1')).code).toBe('IDEMPOTENCY_CONFLICT');
  expect(await walletOf(lender)).toBe('25.00');
  // Keys are per organization.
  const other = await register(t, 'LENDER');
  await deposit(t, other, '15.00');
  expect((await requestPayout(other, '15.00', 'k1')).data.requestPayout.id).not.toBe(first.id);

  const list = await t.gql(`{ payouts { id } }`, {}, lender.key);
  expect(list.data.payouts.map((p: any) => p.id)).toEqual([first.id]);
  const pending = await t.gql(`{ payouts(status: PENDING) { id organization { id } } }`, {}, OPERATOR_KEY);
  expect(pending.data.payouts.map((p: any) => p.id)).toEqual(expect.arrayContaining([first.id]));
  expect((await t.gql(`{ payouts { id } }`, {}, (await register(t, 'BUYER')).key)).code).toBe('FORBIDDEN');
  const pendingSeller = await registerPending(t, 'SELLER');
  expect((await requestPayout(pendingSeller, '1.00', 'p')).code).toBe('FORBIDDEN');
});

it('races: two payouts that together exceed the wallet (one succeeds); a replay of one key (one payout); mark against reject (one wins)', async () => {
  const seller = await register(t, 'SELLER');
  await deposit(t, seller, '100.00');
  const pair = await Promise.all([requestPayout(seller, '60.00', 'r1'), requestPayout(seller, '60.00', 'r2')]);
  expect(pair.filter((r) => !r.errors).length).toBe(1);
  expect(pair.filter((r) => r.code === 'INSUFFICIENT_FUNDS').length).toBe(1);
  expect(await walletOf(seller)).toBe('40.00');

  const replays = await Promise.all(Array.from({ length: 6 }, () => requestPayout(seller, '5.00', 'same')));
  expect(replays.every((r) => !r.errors)).toBe(true);
  expect(new Set(replays.map((r) => r.data.requestPayout.id)).size).toBe(1);
  expect(await walletOf(seller)).toBe('35.00');
  const [{ n }] = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM payouts WHERE organization_id = $1 AND idempotency_key = 'same'`, [seller.id]);
  expect(n).toBe(1);

  const id = replays[0].data.requestPayout.id;
  for (let round = 0; round < 3; round++) {
    const target = round === 0 ? id : (await requestPayout(seller, '1.00', `race-${round}`)).data.requestPayout.id;
    const before = await walletOf(seller);
    const [m, r] = await Promise.all([markPaid(target, `wire-${round}`), reject(target, `no-${round}`)]);
    expect([m, r].filter((x) => !x.errors).length).toBe(1);
    expect([m, r].filter((x) => x.code === 'INVALID_STATE').length).toBe(1);
    const status = (m.errors ? r.data.rejectPayout : m.data.markPayoutPaid).status;
    const returned = status === 'REJECTED' ? new Decimal(round === 0 ? '5.00' : '1.00') : new Decimal(0);
    expect(await walletOf(seller)).toBe(new Decimal(before).plus(returned).toFixed(2));
  }
  expect(await pendingPayoutsAccount()).toBe(await pendingTotal());
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});
