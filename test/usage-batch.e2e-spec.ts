import { randomUUID } from 'node:crypto';
import { Decimal } from '@ccx/core';
import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { CONSUMED, ledgerBalance, marketState, usageEventsOf } from './support/db-probes.js';
import { createListing } from './support/drivers/listings.js';
import { fundedBuyer } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register, suspend } from './support/drivers/organizations.js';
import { postUsage, recordUsage, recordUsageOk, upsertModel, usageReport } from './support/drivers/usage.js';
import { D, expectedGpuCost, expectedTokenCost, h100For } from './support/oracles.js';

/**
 * SPEC §8 `POST /v1/usage`: the gateway's batch path. Up to 1,000 events, each answered in request
 * order as accepted, duplicate or rejected with its code; only accepted ones are charged; a
 * malformed or oversized body changes nothing; REST errors are `{"error":{"code","message"}}`.
 */

let t: TestApp;
let seller: Org;

beforeAll(async () => {
  t = await startTestApp();
  seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
  await upsertModel(t, 'batch-llama', '0.5', '1.5');
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const cr = (v: Decimal | string) => D(v).toFixed(6);
const consumed = () => ledgerBalance(t, CONSUMED);

async function available(buyer: Org): Promise<string> {
  const res = await t.gql(`{ creditBalance { available held } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  expect(res.data.creditBalance.held).toBe('0.000000');
  return res.data.creditBalance.available;
}

/** Everything a refused request must leave untouched: market, ledger and every usage event. */
async function usageState(): Promise<Record<string, unknown>> {
  return {
    market: await marketState(t),
    events: await t.db.dataSource.query(`SELECT organization_id, event_id, credits::text FROM usage_events ORDER BY id`),
  };
}

/** A REST error body: the SPEC §11 code and a message, nothing else (no stack, no SQL). */
function expectError(res: { status: number; body: any }, status: number, code: string | RegExp) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(res.body.error).toEqual({ code: typeof code === 'string' ? code : expect.stringMatching(code), message: expect.any(String) });
  expect(res.body.error.message).not.toMatch(/SELECT|INSERT|\bat .*\.ts:\d+/);
}

describe('a mixed batch', () => {
  it('answers each event in request order; only the accepted ones are charged', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const other = await fundedBuyer(t, ['10']);
    const suspended = await fundedBuyer(t, ['10']);
    await suspend(t, suspended);
    const prior = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'already', model: 'batch-llama', inputTokens: 1000, outputTokens: 500 });
    expect(prior.credits).toBe(cr(expectedTokenCost(1000, 500, '0.5', '1.5')));

    const before = await consumed();
    const events: unknown[] = [
      { organizationId: buyer.id, eventId: 'm1', model: 'batch-llama', inputTokens: 1, outputTokens: 0 },
      { organizationId: buyer.id, eventId: 'already', model: 'batch-llama', inputTokens: 1000, outputTokens: 500 },
      { organizationId: buyer.id, eventId: 'm2', ...h100For('3') },
      { organizationId: buyer.id, eventId: 'm1', model: 'batch-llama', inputTokens: 1 },
      { organizationId: buyer.id, eventId: 'm3', model: 'no-such-model', inputTokens: 10 },
      { organizationId: buyer.id, eventId: 'm4', gpuType: 'H100', gpuSeconds: '1e3' },
      // More than what is left (10 − 0.00125 − 0.000001 − 3): refused whole…
      { organizationId: buyer.id, eventId: 'm5', ...h100For('7') },
      // …while a smaller one after it still fits.
      { organizationId: buyer.id, eventId: 'm6', gpuType: 'A100', gpuSeconds: '36000' },
      { organizationId: suspended.id, eventId: 'm7', ...h100For('1') },
      { organizationId: randomUUID(), eventId: 'm8', ...h100For('1') },
      { organizationId: seller.id, eventId: 'm9', ...h100For('1') },
      null,
      42,
      { organizationId: buyer.id, eventId: 'm10', model: 'batch-llama', inputTokens: 0 },
      { organizationId: buyer.id, eventId: 'm11', gpuType: 'H100', gpuSeconds: 0.5 },
      { organizationId: buyer.id, eventId: 'm12', model: 'batch-llama', inputTokens: '100' },
      { organizationId: buyer.id, eventId: 'm13', model: 'batch-llama', inputTokens: 10, gpuType: 'H100', gpuSeconds: '1' },
      { organizationId: buyer.id, eventId: 'm14', ...h100For('1'), occurredAt: 'yesterday' },
      { organizationId: buyer.id, ...h100For('1') },
      // Another buyer's event of the same id as one above: its own, charged.
      { organizationId: other.id, eventId: 'm2', ...h100For('2') },
      // A whole-number gpuSeconds may come as a JSON integer.
      { organizationId: other.id, eventId: 'm15', gpuType: 'H100', gpuSeconds: 360 },
      { organizationId: buyer.id, eventId: 'm2', ...h100For('3') },
    ];
    const res = await postUsage(t, { events });
    expect(res.status).toBe(200);
    const rejected = (eventId: string, code: string) => ({ eventId, status: 'rejected', code, message: expect.any(String) });
    const a100 = cr(expectedGpuCost('36000', '0.5'));
    expect(a100).toBe('5.000000');
    expect(res.body).toEqual({
      results: [
        { eventId: 'm1', status: 'accepted', credits: '0.000001' },
        { eventId: 'already', status: 'duplicate', credits: prior.credits },
        { eventId: 'm2', status: 'accepted', credits: '3.000000' },
        { eventId: 'm1', status: 'duplicate', credits: '0.000001' },
        rejected('m3', 'NOT_FOUND'),
        rejected('m4', 'BAD_USER_INPUT'),
        rejected('m5', 'INSUFFICIENT_CREDITS'),
        { eventId: 'm6', status: 'accepted', credits: a100 },
        rejected('m7', 'FORBIDDEN'),
        rejected('m8', 'NOT_FOUND'),
        rejected('m9', 'NOT_FOUND'),
        rejected('', 'BAD_USER_INPUT'),
        rejected('', 'BAD_USER_INPUT'),
        rejected('m10', 'BAD_USER_INPUT'),
        rejected('m11', 'BAD_USER_INPUT'),
        rejected('m12', 'BAD_USER_INPUT'),
        rejected('m13', 'BAD_USER_INPUT'),
        rejected('m14', 'BAD_USER_INPUT'),
        rejected('', 'BAD_USER_INPUT'),
        { eventId: 'm2', status: 'accepted', credits: '2.000000' },
        { eventId: 'm15', status: 'accepted', credits: '0.100000' },
        { eventId: 'm2', status: 'duplicate', credits: '3.000000' },
      ],
    });
    const charged = D('0.000001').plus('3').plus(a100).plus('2').plus('0.1');
    expect((await consumed()).minus(before).toFixed(6)).toBe(cr(charged));
    expect(await available(buyer)).toBe(cr(D(10).minus(prior.credits).minus('0.000001').minus(3).minus(a100)));
    expect(await available(other)).toBe('7.900000');
    expect(await available(suspended)).toBe('10.000000');
    expect((await usageEventsOf(t, buyer)).map((e) => [e.event_id, cr(e.credits)])).toEqual([
      ['already', prior.credits],
      ['m1', '0.000001'],
      ['m2', '3.000000'],
      ['m6', a100],
    ]);
    expect((await usageEventsOf(t, other)).map((e) => [e.event_id, cr(e.credits)])).toEqual([
      ['m2', '2.000000'],
      ['m15', '0.100000'],
    ]);
    expect(await usageEventsOf(t, suspended)).toEqual([]);
  });

  it('a batch with nothing chargeable answers 200 and changes nothing', async () => {
    const buyer = await fundedBuyer(t, ['1']);
    const state = await usageState();
    const res = await postUsage(t, {
      events: [
        { organizationId: buyer.id, eventId: 'n1', ...h100For('2') },
        { organizationId: buyer.id, eventId: 'n2', model: 'no-such-model', inputTokens: 1 },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => [r.eventId, r.status, r.code])).toEqual([
      ['n1', 'rejected', 'INSUFFICIENT_CREDITS'],
      ['n2', 'rejected', 'NOT_FOUND'],
    ]);
    expect(await usageState()).toEqual(state);
  });

  it('an event with occurredAt in the past shows in the report on that day', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const res = await postUsage(t, {
      events: [
        { organizationId: buyer.id, eventId: 'past-1', ...h100For('1'), occurredAt: '2025-12-24T18:30:00Z' },
        { organizationId: buyer.id, eventId: 'past-2', model: 'batch-llama', outputTokens: 1_000_000, occurredAt: '2025-12-24T23:59:59.999Z' },
        { organizationId: buyer.id, eventId: 'past-3', ...h100For('0.25'), occurredAt: '2025-12-30T00:00:00.000Z' },
        { organizationId: buyer.id, eventId: 'today', ...h100For('0.5') },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => r.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    const range = { from: '2025-12-01T00:00:00Z', to: '2026-02-01T00:00:00Z' };
    expect((await usageReport(t, { ...range, groupBy: 'DAY' }, buyer.key)).data.usageReport).toEqual([
      { key: '2025-12-24', events: 2, credits: '2.500000' },
      { key: '2025-12-30', events: 1, credits: '0.250000' },
      // No occurredAt: the business clock's day.
      { key: '2026-01-05', events: 1, credits: '0.500000' },
    ]);
    expect((await usageReport(t, { ...range, groupBy: 'MODEL' }, buyer.key)).data.usageReport).toEqual([
      { key: 'batch-llama', events: 1, credits: '1.500000' },
      { key: 'gpu:H100', events: 3, credits: '1.750000' },
    ]);
    const stored = await usageEventsOf(t, buyer);
    expect(stored.map((e) => new Date(e.occurred_at).toISOString())).toEqual([
      '2025-12-24T18:30:00.000Z',
      '2025-12-24T23:59:59.999Z',
      '2025-12-30T00:00:00.000Z',
      '2026-01-05T12:00:00.000Z',
    ]);
  });
});

describe('races through POST /v1/usage', () => {
  it('10 concurrent batches of 5 one-credit events on exactly 10 credits: exactly 10 accepted in all', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const before = await consumed();
    const batches = await Promise.all(
      Array.from({ length: 10 }, (_, b) =>
        postUsage(t, { events: Array.from({ length: 5 }, (_, i) => ({ organizationId: buyer.id, eventId: `race-${b}-${i}`, ...h100For('1') })) }),
      ),
    );
    expect(batches.map((r) => r.status)).toEqual(Array(10).fill(200));
    const results = batches.flatMap((r) => r.body.results);
    expect(results).toHaveLength(50);
    const accepted = results.filter((r: any) => r.status === 'accepted');
    expect(accepted).toHaveLength(10);
    expect(accepted.every((r: any) => r.credits === '1.000000')).toBe(true);
    expect(results.filter((r: any) => r.status === 'rejected').map((r: any) => r.code)).toEqual(Array(40).fill('INSUFFICIENT_CREDITS'));
    expect(await available(buyer)).toBe('0.000000');
    expect((await consumed()).minus(before).toFixed(6)).toBe('10.000000');
    const stored = await usageEventsOf(t, buyer);
    expect(stored.map((e) => e.event_id).sort()).toEqual(accepted.map((r: any) => r.eventId).sort());
  });

  it("one buyer's racing batches and single calls share its queue: exactly 12 accepted on 12 credits, a contested id charged once", async () => {
    // All single-buyer work goes through the buyer's queue and is charged together, cycle by
    // cycle; whatever the grouping, the credits bound what is accepted and an id is charged once.
    const buyer = await fundedBuyer(t, ['12']);
    const before = await consumed();
    const batch = (k: number) =>
      postUsage(t, {
        events: [
          { organizationId: buyer.id, eventId: `mixed-${k}-0`, ...h100For('1') },
          { organizationId: buyer.id, eventId: 'contested', ...h100For('1') },
          { organizationId: buyer.id, eventId: `mixed-${k}-1`, ...h100For('1') },
        ],
      }).then((r) => {
        expect(r.status).toBe(200);
        return r.body.results as { eventId: string; status: string; credits?: string; code?: string }[];
      });
    const single = (eventId: string) =>
      recordUsage(t, { organizationId: buyer.id, eventId, ...h100For('1') }).then((r) =>
        r.errors
          ? { eventId, status: 'rejected', code: String(r.errors[0].extensions?.code) }
          : { eventId, status: r.data.recordUsage.duplicate ? 'duplicate' : 'accepted', credits: r.data.recordUsage.credits as string },
      );
    const answers = (
      await Promise.all([
        ...Array.from({ length: 6 }, (_, k) => batch(k)),
        ...Array.from({ length: 10 }, (_, k) => single(`single-${k}`).then((a) => [a])),
        ...Array.from({ length: 3 }, () => single('contested').then((a) => [a])),
      ])
    ).flat();
    expect(answers).toHaveLength(6 * 3 + 10 + 3);
    const accepted = answers.filter((a) => a.status === 'accepted');
    expect(accepted).toHaveLength(12);
    expect(new Set(accepted.map((a) => a.eventId)).size).toBe(12);
    expect(accepted.every((a) => a.credits === '1.000000')).toBe(true);
    // Every other answer is a duplicate of the contested id (once it was charged) or a refusal.
    for (const a of answers.filter((x) => x.status !== 'accepted')) {
      if (a.status === 'duplicate') expect(a).toMatchObject({ eventId: 'contested', credits: '1.000000' });
      else expect(a).toMatchObject({ status: 'rejected', code: 'INSUFFICIENT_CREDITS' });
    }
    if (!accepted.some((a) => a.eventId === 'contested')) expect(answers.some((a) => a.status === 'duplicate')).toBe(false);
    expect(await available(buyer)).toBe('0.000000');
    expect((await consumed()).minus(before).toFixed(6)).toBe('12.000000');
    const stored = await usageEventsOf(t, buyer);
    expect(stored.map((e) => e.event_id).sort()).toEqual(accepted.map((a) => a.eventId).sort());
  });

  it('the same eventId in racing batches is charged once', async () => {
    const a = await fundedBuyer(t, ['100']);
    const b = await fundedBuyer(t, ['100']);
    const before = await consumed();
    const batches = await Promise.all(
      Array.from({ length: 8 }, (_, k) =>
        postUsage(t, {
          events: [
            { organizationId: a.id, eventId: `own-${k}`, ...h100For('1') },
            { organizationId: a.id, eventId: 'contested', ...h100For('2.5') },
            { organizationId: b.id, eventId: 'contested', ...h100For('1.5') },
          ],
        }),
      ),
    );
    expect(batches.map((r) => r.status)).toEqual(Array(8).fill(200));
    const results = batches.map((r) => r.body.results);
    expect(results.every((r) => r[0].status === 'accepted')).toBe(true);
    for (const [index, credits] of [[1, '2.500000'], [2, '1.500000']] as const) {
      const answers = results.map((r) => r[index]);
      expect(answers.every((x) => x.eventId === 'contested' && x.credits === credits)).toBe(true);
      expect(answers.filter((x) => x.status === 'accepted')).toHaveLength(1);
      expect(answers.filter((x) => x.status === 'duplicate')).toHaveLength(7);
    }
    expect(await available(a)).toBe('89.500000');
    expect(await available(b)).toBe('98.500000');
    expect((await consumed()).minus(before).toFixed(6)).toBe('12.000000');
    expect(await usageEventsOf(t, a)).toHaveLength(9);
    expect(await usageEventsOf(t, b)).toHaveLength(1);
  });
});

describe('malformed requests change nothing', () => {
  let buyer: Org;
  beforeAll(async () => {
    buyer = await fundedBuyer(t, ['2000']);
  });
  const one = () => ({ organizationId: buyer.id, eventId: `x-${Math.random().toString(36).slice(2)}`, ...h100For('1') });

  it('malformed JSON is 400 BAD_USER_INPUT', async () => {
    const state = await usageState();
    for (const body of ['{"events": [', `{"events": [${JSON.stringify(one())}, ]}`, 'events=1', "{'events': []}"]) {
      expectError(await postUsage(t, body), 400, 'BAD_USER_INPUT');
    }
    expect(await usageState()).toEqual(state);
  });

  it('a body that is not {"events": [1..1000 events]} is 400', async () => {
    const state = await usageState();
    for (const body of [{}, { events: 'x' }, { events: [] }, { events: null }, { events: {} }, { events: 7 }, [one()], { event: [one()] }]) {
      expectError(await postUsage(t, body), 400, 'BAD_USER_INPUT');
    }
    expect(await usageState()).toEqual(state);
  });

  it('1,001 events are refused whole; 1,000 are answered one by one', async () => {
    const state = await usageState();
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ organizationId: buyer.id, eventId: `big-${i}`, ...h100For('0.001') }));
    expectError(await postUsage(t, { events: tooMany }), 400, 'BAD_USER_INPUT');
    expect(await usageState()).toEqual(state);

    const before = await consumed();
    const res = await postUsage(t, { events: tooMany.slice(0, 1000) });
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(1000);
    expect(res.body.results.map((r: any) => r.eventId)).toEqual(tooMany.slice(0, 1000).map((e) => e.eventId));
    expect(res.body.results.every((r: any) => r.status === 'accepted' && r.credits === '0.001000')).toBe(true);
    expect((await consumed()).minus(before).toFixed(6)).toBe('1.000000');
    expect(await available(buyer)).toBe('1999.000000');
    expect(await usageEventsOf(t, buyer)).toHaveLength(1000);
    // Replayed whole, it is 1,000 duplicates and charges nothing.
    const again = await postUsage(t, { events: tooMany.slice(0, 1000) });
    expect(again.status).toBe(200);
    expect(again.body.results.every((r: any) => r.status === 'duplicate' && r.credits === '0.001000')).toBe(true);
    expect((await consumed()).minus(before).toFixed(6)).toBe('1.000000');
  });

  it("a body over the server's size limit is 413 with an error code", async () => {
    const state = await usageState();
    const res = await postUsage(t, { events: [one()], padding: 'x'.repeat(2 * 1024 * 1024) });
    expectError(res, 413, /^[A-Z_]+$/);
    expect(await usageState()).toEqual(state);
  });

  it('no key is 401, an unknown key 401, a buyer or seller key 403; nothing recorded', async () => {
    const state = await usageState();
    const body = { events: [{ ...one(), organizationId: buyer.id }] };
    expectError(await postUsage(t, body, null), 401, 'UNAUTHENTICATED');
    expectError(await postUsage(t, body, 'ccx_thisKeyWasNeverIssued00000000000000000000'), 401, 'UNAUTHENTICATED');
    expectError(await postUsage(t, body, buyer.key), 403, 'FORBIDDEN');
    expectError(await postUsage(t, body, seller.key), 403, 'FORBIDDEN');
    const bad = await t.http().post('/v1/usage').set('authorization', 'Basic abc').send(body);
    expectError(bad, 401, 'UNAUTHENTICATED');
    expect(await usageState()).toEqual(state);
  });
});
