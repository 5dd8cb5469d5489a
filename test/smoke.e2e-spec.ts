import { startTestApp, type TestApp } from './support/app.js';
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

it('a seller lists, a buyer quotes and buys at the SPEC §5 price', async () => {
  const seller = await register(t, 'SELLER');
  const listing = await createListing(t, seller, { gpuHours: '10000', wholesalePricePerGpuHour: '1.50' });
  expect(listing).toMatchObject({ status: 'OPEN', totalCredits: '10000.000000', wholesaleCostPerCredit: '1.500000' });
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '5000.00');
  const quote = await t.gql(`{ quote(input: { type: STANDARD, credits: "1000" }) { unitPrice totalPrice wholesaleCost discountRate } }`);
  expect(quote.data.quote).toEqual({ unitPrice: '1.800000', totalPrice: '1800.00', wholesaleCost: '1500.00', discountRate: '0.00' });
  const bought = await t.gql(
    `mutation { purchaseCredits(input: { credits: "1000", idempotencyKey: "p1" }) { credits unitPrice totalPrice block { type status granted remaining expiresAt } } }`,
    {},
    buyer.key,
  );
  expect(bought.errors).toBeUndefined();
  expect(bought.data.purchaseCredits).toEqual({
    credits: '1000.000000',
    unitPrice: '1.800000',
    totalPrice: '1800.00',
    block: { type: 'STANDARD', status: 'ACTIVE', granted: '1000.000000', remaining: '1000.000000', expiresAt: null },
  });
  expect(await walletOf(t, buyer)).toBe('3200.00');
  expect(await walletOf(t, seller)).toBe('1500.00');
  const reserved = await t.gql(
    `mutation { reserveCredits(input: { creditsPerMonth: "100", termMonths: 3, idempotencyKey: "r1" }) { unitPrice discountRate monthsDelivered status nextDeliveryAt } }`,
    {},
    buyer.key,
  );
  expect(reserved.errors).toBeUndefined();
  const adv = await t.gql(`mutation { advanceTestClock(to: "2026-06-01T00:00:00Z") }`, {}, 'ccx-test-operator-key-0123456789');
  expect(adv.errors).toBeUndefined();
  const after = await t.gql(`{ reservations { monthsDelivered status } creditBalance { available blocks { type status remaining } } }`, {}, buyer.key);
  expect(after.errors).toBeUndefined();
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});
