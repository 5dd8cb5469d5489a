import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { accept, acceptOk, clockTo, offer, offerOk, repayOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register, registerPending } from './support/drivers/organizations.js';
import { deposit } from './support/drivers/wallets.js';

/** SPEC §13: financing requests, the borrower profile, and offers that answer a request. */
let t: TestApp;
let seller: Org;
let buyer: Org;
let otherBuyer: Org;
let lender: Org;
let otherLender: Org;

const FIELDS = `id amount termMonths purpose status createdAt borrower { id name }
  borrowerProfile { memberSince creditsPurchased creditsUsedLast90Days facilitiesRepaid facilitiesDefaulted }`;
const requestFinancing = (key: string, input: Record<string, unknown>) =>
  t.gql(`mutation($input: FinancingRequestInput!) { requestFinancing(input: $input) { ${FIELDS} } }`, { input }, key);
const requestOk = async (key: string, input: Record<string, unknown> = { amount: '500.00', termMonths: 6, purpose: 'fine-tune a model' }) => {
  const res = await requestFinancing(key, input);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.requestFinancing;
};
const list = async (key: string, status?: string) => {
  const res = await t.gql(`query($status: FinancingRequestStatus) { financingRequests(status: $status) { ${FIELDS} } }`, { status }, key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.financingRequests as any[];
};
const withdraw = (key: string, id: string) => t.gql(`mutation($id: ID!) { withdrawFinancingRequest(id: $id) { id status } }`, { id }, key);
const SMALL = { principal: '100.00', apr: '0.12', termMonths: 3 };

beforeAll(async () => {
  t = await startTestApp();
  seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.00' });
  buyer = await register(t, 'BUYER');
  otherBuyer = await register(t, 'BUYER');
  lender = await register(t, 'LENDER');
  otherLender = await register(t, 'LENDER');
  await deposit(t, buyer, '10000.00');
  await deposit(t, lender, '10000.00');
  await deposit(t, otherLender, '10000.00');
});
afterAll(async () => {
  await t.close();
});

it('validates the request: amount in USD above 0 at 2 decimals, a term within the facility rules, a purpose of 1 to 500 characters', async () => {
  const good = { amount: '500.00', termMonths: 6, purpose: 'GPUs' };
  for (const bad of [
    { amount: '0' },
    { amount: '-1.00' },
    { amount: '1.001' },
    { amount: '1e3' },
    { amount: 'abc' },
    { termMonths: 0 },
    { termMonths: 361 },
    { purpose: '' },
    { purpose: '   ' },
    { purpose: 'x'.repeat(501) },
  ]) {
    const res = await requestFinancing(buyer.key, { ...good, ...bad });
    expect({ bad, code: res.code }).toEqual({ bad, code: 'BAD_USER_INPUT' });
  }
  expect(await list(buyer.key)).toEqual([]);
  const made = await requestOk(buyer.key, { ...good, purpose: 'x'.repeat(500), termMonths: 360 });
  expect(made).toMatchObject({ amount: '500.00', termMonths: 360, status: 'OPEN', borrower: { id: buyer.id } });
  expect((await withdraw(buyer.key, made.id)).data.withdrawFinancingRequest.status).toBe('WITHDRAWN');
});

it('shows each caller what it may see: the buyer its own, every ACTIVE lender the OPEN ones, the operator all', async () => {
  const mine = await requestOk(buyer.key);
  const theirs = await requestOk(otherBuyer.key, { amount: '75.50', termMonths: 2, purpose: 'inference' });
  const pendingLender = await registerPending(t, 'LENDER');

  expect((await list(buyer.key)).map((r) => r.id)).toContain(mine.id);
  expect((await list(buyer.key)).map((r) => r.id)).not.toContain(theirs.id);
  expect((await list(otherBuyer.key)).map((r) => r.id)).toEqual([theirs.id]);
  // Newest first.
  expect((await list(lender.key, 'OPEN')).map((r) => r.id)).toEqual([theirs.id, mine.id]);
  expect((await list(lender.key)).every((r) => r.status === 'OPEN')).toBe(true);
  expect(await list(pendingLender.key)).toEqual([]);
  const all = await list(OPERATOR_KEY);
  expect(all.map((r) => r.id)).toEqual(expect.arrayContaining([mine.id, theirs.id]));
  expect(all.some((r) => r.status === 'WITHDRAWN')).toBe(true);
  expect((await t.gql(`{ financingRequests { id } }`, {}, seller.key)).code).toBe('FORBIDDEN');

  await withdraw(buyer.key, mine.id);
  await withdraw(otherBuyer.key, theirs.id);
});

it("builds the borrower profile from CCX's own records", async () => {
  const b = await register(t, 'BUYER');
  await deposit(t, b, '1000.00');
  const bought = await t.gql(`mutation { purchaseCredits(input: { credits: "100", idempotencyKey: "profile-buy" }) { id } }`, {}, b.key);
  expect(bought.errors).toBeUndefined();
  const used = await t.gql(
    `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { credits } }`,
    { input: { organizationId: b.id, eventId: 'profile-use', gpuType: 'H100', gpuSeconds: '5400' } },
    OPERATOR_KEY,
  );
  expect(used.data.recordUsage.credits).toBe('1.500000');
  // One facility repaid in full; one that defaults (grace 1, default after 3 days past due).
  const repaid = await acceptOk(t, b, (await offerOk(t, lender, { borrowerId: b.id, ...SMALL })).id);
  await repayOk(t, b, repaid.id, repaid.payoffAmount);
  const defaulting = await acceptOk(t, b, (await offerOk(t, lender, { borrowerId: b.id, ...SMALL, graceDays: 1, defaultAfterDaysPastDue: 3 })).id);
  const request = await requestOk(b.key, { amount: '2000.00', termMonths: 12, purpose: 'more GPUs' });
  const [me] = await t.gql(`{ me { createdAt } }`, {}, b.key).then((r) => [r.data.me]);

  const seen = (await list(lender.key)).find((r) => r.id === request.id);
  expect(seen.borrowerProfile).toEqual({
    memberSince: me.createdAt,
    creditsPurchased: '100.000000',
    creditsUsedLast90Days: '1.500000',
    facilitiesRepaid: 1,
    facilitiesDefaulted: 0,
  });
  // The lender sees the borrower's id and name (to offer), and nothing else.
  expect(Object.keys(seen.borrower)).toEqual(['id', 'name']);

  await clockTo(t, '2026-02-12T12:00:00.000Z');
  expect((await t.gql(`query($id: ID!) { facility(id: $id) { status } }`, { id: defaulting.id }, OPERATOR_KEY)).data.facility.status).toBe('DEFAULTED');
  const later = (await list(otherLender.key)).find((r) => r.id === request.id);
  expect(later.borrowerProfile).toMatchObject({ creditsUsedLast90Days: '1.500000', facilitiesRepaid: 1, facilitiesDefaulted: 1 });
  // 90 days after the usage, it no longer counts.
  await clockTo(t, '2026-04-05T12:00:00.000Z');
  expect((await list(otherLender.key)).find((r) => r.id === request.id).borrowerProfile.creditsUsedLast90Days).toBe('0.000000');
  await withdraw(b.key, request.id);
});

it('an offer names an OPEN request of its borrower; accepting it funds the request in the same transaction, and no other offer on it can then be accepted', async () => {
  const request = await requestOk(buyer.key, { amount: '100.00', termMonths: 3, purpose: 'a pilot' });
  const named = (lenderOrg: Org, borrowerId = buyer.id, financingRequestId: string = request.id) =>
    offer(t, lenderOrg, { borrowerId, ...SMALL, financingRequestId } as any);

  expect((await named(lender, otherBuyer.id)).code).toBe('BAD_USER_INPUT');
  expect((await named(lender, buyer.id, '00000000-0000-4000-8000-000000000000')).code).toBe('NOT_FOUND');
  const first = await named(lender);
  const second = await named(otherLender);
  expect(first.errors).toBeUndefined();
  expect(second.errors).toBeUndefined();

  await acceptOk(t, buyer, first.data.offerFacility.id);
  expect((await list(buyer.key)).find((r) => r.id === request.id).status).toBe('FUNDED');
  // The funding lender still sees it; the other lender no longer does (it is not OPEN).
  expect((await list(lender.key)).find((r) => r.id === request.id)?.status).toBe('FUNDED');
  expect((await list(otherLender.key)).find((r) => r.id === request.id)).toBeUndefined();

  const walletBefore = (await t.gql(`{ wallet { available } }`, {}, otherLender.key)).data.wallet.available;
  const refused = await accept(t, buyer.key, second.data.offerFacility.id);
  expect(refused.code).toBe('INVALID_STATE');
  expect((await t.gql(`{ wallet { available } }`, {}, otherLender.key)).data.wallet.available).toBe(walletBefore);
  expect((await t.gql(`query($id: ID!) { facility(id: $id) { status } }`, { id: second.data.offerFacility.id }, buyer.key)).data.facility.status).toBe('OFFERED');
  expect((await named(otherLender)).code).toBe('INVALID_STATE');
  expect((await withdraw(buyer.key, request.id)).code).toBe('INVALID_STATE');
});

it('the buyer withdraws an OPEN request: no offer on it can be made or accepted any more', async () => {
  const request = await requestOk(buyer.key, { amount: '100.00', termMonths: 3, purpose: 'withdrawn later' });
  const early = await offer(t, lender, { borrowerId: buyer.id, ...SMALL, financingRequestId: request.id } as any);
  expect((await withdraw(otherBuyer.key, request.id)).code).toBe('NOT_FOUND');
  expect((await withdraw(buyer.key, request.id)).data.withdrawFinancingRequest.status).toBe('WITHDRAWN');
  expect((await withdraw(buyer.key, request.id)).data.withdrawFinancingRequest.status).toBe('WITHDRAWN');
  expect((await accept(t, buyer.key, early.data.offerFacility.id)).code).toBe('INVALID_STATE');
  expect((await offer(t, lender, { borrowerId: buyer.id, ...SMALL, financingRequestId: request.id } as any)).code).toBe('INVALID_STATE');
  expect((await list(lender.key)).find((r) => r.id === request.id)).toBeUndefined();
  expect((await list(buyer.key, 'WITHDRAWN')).map((r) => r.id)).toContain(request.id);
});

it('a withdrawal racing an acceptance: exactly one of them happens', async () => {
  const request = await requestOk(buyer.key, { amount: '100.00', termMonths: 3, purpose: 'race' });
  const made = await offer(t, lender, { borrowerId: buyer.id, ...SMALL, financingRequestId: request.id } as any);
  const [w, a] = await Promise.all([withdraw(buyer.key, request.id), accept(t, buyer.key, made.data.offerFacility.id)]);
  const status = (await list(buyer.key)).find((r) => r.id === request.id).status;
  if (status === 'FUNDED') {
    expect([w.code, a.errors]).toEqual(['INVALID_STATE', undefined]);
  } else {
    expect(status).toBe('WITHDRAWN');
    expect([w.errors, a.code]).toEqual([undefined, 'INVALID_STATE']);
  }
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});
