import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { createListing } from './support/drivers/listings.js';
import { integrity } from './support/drivers/operator.js';
import { register } from './support/drivers/organizations.js';
import { deposit } from './support/drivers/wallets.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

it('charges usage through GraphQL and the batch endpoint, burn-down and duplicates', async () => {
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '1000', wholesalePricePerGpuHour: '1.50' });
  const buyer = await register(t, 'BUYER');
  await deposit(t, buyer, '100.00');
  await t.gql(`mutation { purchaseCredits(input: { credits: "10", idempotencyKey: "k1" }) { id } }`, {}, buyer.key);
  await t.gql(`mutation { upsertModel(input: { id: "llama", inputCreditsPerMillionTokens: "0.5", outputCreditsPerMillionTokens: "1.5" }) { id } }`, {}, OPERATOR_KEY);
  const one = await t.gql(
    `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { eventId credits duplicate } }`,
    { i: { organizationId: buyer.id, eventId: 'e1', model: 'llama', inputTokens: 1000, outputTokens: 500 } },
    OPERATOR_KEY,
  );
  expect(one.errors).toBeUndefined();
  expect(one.data.recordUsage).toEqual({ eventId: 'e1', credits: '0.001250', duplicate: false });
  const again = await t.gql(
    `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { eventId credits duplicate } }`,
    { i: { organizationId: buyer.id, eventId: 'e1', model: 'llama', inputTokens: 1000, outputTokens: 500 } },
    OPERATOR_KEY,
  );
  expect(again.data.recordUsage).toEqual({ eventId: 'e1', credits: '0.001250', duplicate: true });

  const res = await t
    .http()
    .post('/v1/usage')
    .set('authorization', `Bearer ${OPERATOR_KEY}`)
    .send({
      events: [
        { organizationId: buyer.id, eventId: 'b1', gpuType: 'H100', gpuSeconds: '3600' },
        { organizationId: buyer.id, eventId: 'e1', model: 'llama', inputTokens: 1000, outputTokens: 500 },
        { organizationId: buyer.id, eventId: 'b2', gpuType: 'H100', gpuSeconds: '36000' },
        { organizationId: buyer.id, eventId: 'b3', model: 'nope', inputTokens: 1 },
        { organizationId: buyer.id, eventId: 'b1', gpuType: 'H100', gpuSeconds: '3600' },
      ],
    });
  expect(res.status).toBe(200);
  expect(res.body.results).toEqual([
    { eventId: 'b1', status: 'accepted', credits: '1.000000' },
    { eventId: 'e1', status: 'duplicate', credits: '0.001250' },
    { eventId: 'b2', status: 'rejected', code: 'INSUFFICIENT_CREDITS', message: expect.any(String) },
    { eventId: 'b3', status: 'rejected', code: 'NOT_FOUND', message: expect.any(String) },
    { eventId: 'b1', status: 'duplicate', credits: '1.000000' },
  ]);
  const bal = await t.gql(`{ creditBalance { available held frozen } }`, {}, buyer.key);
  expect(bal.data.creditBalance).toEqual({ available: '8.998750', held: '0.000000', frozen: '0.000000' });

  const hold = await t.gql(`mutation { authorizeUsage(input: { organizationId: "${buyer.id}", eventId: "h1", credits: "2" }) { id credits status } }`, {}, OPERATOR_KEY);
  expect(hold.errors).toBeUndefined();
  expect((await t.gql(`{ creditBalance { available held } }`, {}, buyer.key)).data.creditBalance).toEqual({ available: '6.998750', held: '2.000000' });
  const cap = await t.gql(`mutation { captureUsage(input: { holdId: "${hold.data.authorizeUsage.id}", gpuType: "H100", gpuSeconds: "1800" }) { eventId credits duplicate } }`, {}, OPERATOR_KEY);
  expect(cap.errors).toBeUndefined();
  expect(cap.data.captureUsage).toEqual({ eventId: 'h1', credits: '0.500000', duplicate: false });
  expect((await t.gql(`{ creditBalance { available held } }`, {}, buyer.key)).data.creditBalance).toEqual({ available: '8.498750', held: '0.000000' });

  const report = await t.gql(`{ usageReport(input: { from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", groupBy: MODEL }) { key events credits } }`, {}, buyer.key);
  expect(report.data.usageReport).toEqual([
    { key: 'gpu:H100', events: 2, credits: '1.500000' },
    { key: 'llama', events: 1, credits: '0.001250' },
  ]);
  const csv = await t.http().get('/v1/usage/report.csv?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&groupBy=DAY').set('authorization', `Bearer ${buyer.key}`);
  expect(csv.status).toBe(200);
  expect(csv.text).toBe('key,events,credits\r\n2026-01-05,3,1.501250\r\n');
  expect((await t.http().post('/v1/usage').send({ events: [] })).status).toBe(401);
  expect((await t.http().post('/v1/usage').set('authorization', `Bearer ${buyer.key}`).send({ events: [] })).status).toBe(403);
  const bad = await t.http().post('/v1/usage').set('authorization', `Bearer ${OPERATOR_KEY}`).set('content-type', 'application/json').send('{"events": [');
  expect(bad.status).toBe(400);
  expect(bad.body.error.code).toBe('BAD_USER_INPUT');
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});
