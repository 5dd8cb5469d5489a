import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { createListing } from './support/drivers/listings.js';
import { integrity } from './support/drivers/operator.js';
import { register } from './support/drivers/organizations.js';
import { deposit, walletOf } from './support/drivers/wallets.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const FIELDS = `id status principal financingFee disclosedApr totalInterest creditsGranted outstandingPrincipal pastDueAmount daysPastDue frozen
  recoveredAmount chargedOffAmount creditBlock { status remaining expiresAt unitPrice } schedule { number dueDate payment principal interest status }
  freezeEvents { action actorId reason at }`;

it('offer, accept, default with automatic freeze, recovery', async () => {
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
  const lender = await register(t, 'LENDER');
  await deposit(t, lender, '100000.00');
  const buyer = await register(t, 'BUYER');
  const offered = await t.gql(
    `mutation($input: OfferFacilityInput!) { offerFacility(input: $input) { ${FIELDS} } }`,
    { input: { borrowerId: buyer.id, principal: '100000.00', apr: '0.18', termMonths: 12 } },
    lender.key,
  );
  expect(offered.errors).toBeUndefined();
  const f = offered.data.offerFacility;
  expect(f).toMatchObject({ status: 'OFFERED', financingFee: '2000.00', totalInterest: '10015.99' });
  const accepted = await t.gql(`mutation($id: ID!) { acceptFacility(id: $id) { ${FIELDS} } }`, { id: f.id }, buyer.key);
  expect(accepted.errors).toBeUndefined();
  expect(accepted.data.acceptFacility).toMatchObject({ status: 'ACTIVE', creditsGranted: '65333.333333', outstandingPrincipal: '100000.00' });
  expect(accepted.data.acceptFacility.schedule.map((i: any) => i.payment)).toEqual([...Array(11).fill('9168.00'), '9167.99']);
  expect(await walletOf(t, lender)).toBe('0.00');
  expect(await walletOf(t, seller)).toBe('98000.00');

  await deposit(t, buyer, '9168.00');
  const paid = await t.gql(
    `mutation($input: RepayFacilityInput!) { repayFacility(input: $input) { amount interestPaid principalPaid facility { status outstandingPrincipal } } }`,
    { input: { facilityId: f.id, amount: '9168.00', idempotencyKey: 'pay-1' } },
    buyer.key,
  );
  expect(paid.errors).toBeUndefined();
  expect(paid.data.repayFacility).toMatchObject({ interestPaid: '1500.00', principalPaid: '7668.00', facility: { status: 'ACTIVE', outstandingPrincipal: '92332.00' } });

  // Installment 2 due 2026-03-05 unpaid: 30 days later the facility defaults and freezes.
  await t.gql(`mutation { advanceTestClock(to: "2026-04-10T00:00:00Z") }`, {}, OPERATOR_KEY);
  const defaulted = await t.gql(`query($id: ID!) { facility(id: $id) { ${FIELDS} } }`, { id: f.id }, lender.key);
  expect(defaulted.data.facility).toMatchObject({ status: 'DEFAULTED', frozen: true, creditBlock: { status: 'FROZEN' } });
  expect(defaulted.data.facility.freezeEvents[0]).toMatchObject({ action: 'FREEZE', actorId: null, at: '2026-04-04T12:00:00.000Z' });

  // The borrower heard of it: each overdue installment, then the freeze (newest first).
  const alerts = await t.gql(`{ alerts { kind message createdAt } }`, {}, buyer.key);
  expect(alerts.data.alerts.map((a: any) => [a.kind, a.createdAt])).toEqual([
    ['PAYMENT_OVERDUE', '2026-04-05T12:00:00.000Z'],
    ['CREDITS_FROZEN', '2026-04-04T12:00:00.000Z'],
    ['PAYMENT_OVERDUE', '2026-03-05T12:00:00.000Z'],
  ]);
  const lenderAlerts = await t.gql(`{ alerts { kind } }`, {}, lender.key);
  expect(lenderAlerts.data.alerts.map((a: any) => a.kind)).toEqual(['PAYMENT_OVERDUE', 'PAYMENT_OVERDUE']);

  const recovered = await t.gql(
    `mutation($id: ID!) { recoverFrozenCredits(id: $id) { creditsRecovered amountRecovered surplus chargedOffAmount facility { status outstandingPrincipal chargedOffAmount recoveredAmount creditBlock { status remaining } } } }`,
    { id: f.id },
    lender.key,
  );
  expect(recovered.errors).toBeUndefined();
  // Nothing consumed: 0.80 × 98,000.00 of wholesale cost basis. Owed: 92,332.00 principal + the
  // interest of installments 2 (1,384.98) and 3 (1,268.23), both due by Apr 10.
  expect(recovered.data.recoverFrozenCredits).toMatchObject({ creditsRecovered: '65333.333333', amountRecovered: '78400.00', surplus: '0.00', chargedOffAmount: '16585.21' });
  expect(recovered.data.recoverFrozenCredits.facility.status).toBe('CHARGED_OFF');
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});
