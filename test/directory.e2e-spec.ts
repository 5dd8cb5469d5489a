import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { register, registerPending, suspend } from './support/drivers/organizations.js';

/** SPEC §13: the operator's directory and approvals queue. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const DIRECTORY = `query($filter: OrganizationFilter, $first: Int, $after: String) {
  organizations(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name role status createdAt } }
  }
}`;

it('lists organizations newest first, by role and status, page by page; PENDING is the approvals queue', async () => {
  const buyers = [await register(t, 'BUYER'), await register(t, 'BUYER')];
  const pending = [await registerPending(t, 'SELLER'), await registerPending(t, 'LENDER'), await registerPending(t, 'SELLER')];
  const suspended = await register(t, 'BUYER');
  await suspend(t, suspended);

  const queue = await t.gql(DIRECTORY, { filter: { status: 'PENDING' } }, OPERATOR_KEY);
  expect(queue.errors).toBeUndefined();
  expect(queue.data.organizations.totalCount).toBe(3);
  expect(queue.data.organizations.edges.map((e: any) => e.node.id)).toEqual(pending.map((o) => o.id).reverse());

  const pendingSellers = await t.gql(DIRECTORY, { filter: { status: 'PENDING', role: 'SELLER' } }, OPERATOR_KEY);
  expect(pendingSellers.data.organizations.edges.map((e: any) => e.node.id)).toEqual([pending[2].id, pending[0].id]);

  const activeBuyers = await t.gql(DIRECTORY, { filter: { role: 'BUYER', status: 'ACTIVE' } }, OPERATOR_KEY);
  expect(activeBuyers.data.organizations.edges.map((e: any) => e.node.id)).toEqual(buyers.map((o) => o.id).reverse());

  // Everyone (the operator too), two at a time, newest first, with nothing repeated or skipped.
  const all = await t.gql(DIRECTORY, { first: 200 }, OPERATOR_KEY);
  const total = all.data.organizations.totalCount;
  expect(total).toBe(7);
  const seen: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = await t.gql(DIRECTORY, { first: 2, after }, OPERATOR_KEY);
    expect(page.errors).toBeUndefined();
    expect(page.data.organizations.totalCount).toBe(total);
    seen.push(...page.data.organizations.edges.map((e: any) => e.node.id));
    if (!page.data.organizations.pageInfo.hasNextPage) break;
    after = page.data.organizations.pageInfo.endCursor;
  }
  expect(seen).toEqual(all.data.organizations.edges.map((e: any) => e.node.id));
  expect(seen[0]).toBe(suspended.id);

  // Approving takes an organization out of the queue.
  await t.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: pending[1].id }, OPERATOR_KEY);
  const after1 = await t.gql(DIRECTORY, { filter: { status: 'PENDING' } }, OPERATOR_KEY);
  expect(after1.data.organizations.edges.map((e: any) => e.node.id)).toEqual([pending[2].id, pending[0].id]);
});

it('caps first and refuses a cursor it did not make', async () => {
  for (const first of [0, 201, -1]) {
    expect((await t.gql(DIRECTORY, { first }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
  }
  expect((await t.gql(DIRECTORY, { after: 'not-a-cursor' }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
  expect((await t.gql(DIRECTORY, { filter: { status: 'NOPE' } }, OPERATOR_KEY)).code).toBe('BAD_USER_INPUT');
});
