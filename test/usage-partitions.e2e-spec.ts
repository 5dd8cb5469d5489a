import { randomUUID } from 'node:crypto';
import { ensureMonthlyPartitions } from '../apps/api/src/database/monthly-partitions.js';
import { MonthlyPartitions1763700000017 } from '../migrations/1763700000017-monthly-partitions.js';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { createListing } from './support/drivers/listings.js';
import { creditsOf, fundedBuyer } from './support/drivers/market.js';
import { advanceClock, integrity } from './support/drivers/operator.js';
import { register, type Org } from './support/drivers/organizations.js';
import { postUsage, recordUsageOk, upsertModel, usageReport } from './support/drivers/usage.js';
import { D, expectedTokenCost } from './support/oracles.js';

/**
 * usage_events and inference_requests are partitioned by UTC month with a DEFAULT partition
 * (migration 1763700000017, docs/PARTITIONING.md). Through the public API: events land in their
 * month's partition, or in DEFAULT when no month partition covers them, and are reported and
 * deduplicated wherever they are; maintenance that creates a month DEFAULT already holds rows of
 * moves them; an event id is charged once per buyer across months (usage_event_keys); concurrent
 * maintenance runs both succeed; the migration's down then up keeps every row.
 */

let t: TestApp;
const MODEL = 'part-model';
const each = expectedTokenCost(1000, 500, '2', '4');

beforeAll(async () => {
  t = await startTestApp();
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
  await upsertModel(t, MODEL, '2', '4');
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);
const event = (buyer: Org, eventId: string, occurredAt?: string) => ({
  organizationId: buyer.id,
  eventId,
  model: MODEL,
  inputTokens: 1000,
  outputTokens: 500,
  ...(occurredAt ? { occurredAt } : {}),
});
/** Where each of the buyer's events is stored: event id → partition. */
async function partitionsOf(buyer: Org): Promise<Record<string, string>> {
  const rows = await q(`SELECT event_id, tableoid::regclass::text AS part FROM usage_events WHERE organization_id = $1`, [buyer.id]);
  return Object.fromEntries(rows.map((r: { event_id: string; part: string }) => [r.event_id, r.part]));
}
async function reportOf(buyer: Org, from: string, to: string, groupBy: 'DAY' | 'MODEL' = 'DAY') {
  const res = await usageReport(t, { from, to, groupBy }, OPERATOR_KEY, buyer.id);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.usageReport;
}
async function accepted(buyer: Org, events: object[]) {
  const res = await postUsage(t, { events });
  expect(res.status).toBe(200);
  return res.body.results;
}

describe('month partitions of usage_events', () => {
  it('puts each event in the partition of its UTC month, the first and last instants of a month included', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    const results = await accepted(buyer, [
      event(buyer, 'jan', '2026-01-10T08:00:00Z'),
      event(buyer, 'feb-last', '2026-02-28T23:59:59.999Z'),
      event(buyer, 'mar-first', '2026-03-01T00:00:00.000Z'),
      event(buyer, 'now'),
    ]);
    expect(results.map((r: any) => r.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    // The test clock starts on 2026-01-05: the event without occurredAt occurred then.
    expect(await partitionsOf(buyer)).toEqual({
      jan: 'usage_events_p2026_01',
      'feb-last': 'usage_events_p2026_02',
      'mar-first': 'usage_events_p2026_03',
      now: 'usage_events_p2026_01',
    });
    expect(await reportOf(buyer, '2026-02-01T00:00:00Z', '2026-04-01T00:00:00Z')).toEqual([
      { key: '2026-02-28', events: 1, credits: each.toFixed(6) },
      { key: '2026-03-01', events: 1, credits: each.toFixed(6) },
    ]);
  });

  it('stores an event far in the past or future in DEFAULT, and still reports it and answers its replay as a duplicate', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    await accepted(buyer, [event(buyer, 'ancient', '0005-03-01T12:00:00Z'), event(buyer, 'far-future', '9999-12-31T12:00:00Z')]);
    expect(await partitionsOf(buyer)).toEqual({ ancient: 'usage_events_default', 'far-future': 'usage_events_default' });

    expect(await reportOf(buyer, '0005-03-01T00:00:00Z', '0005-03-02T00:00:00Z')).toEqual([{ key: '0005-03-01', events: 1, credits: each.toFixed(6) }]);
    expect(await reportOf(buyer, '9999-12-01T00:00:00Z', '9999-12-31T23:59:59.999Z', 'MODEL')).toEqual([{ key: MODEL, events: 1, credits: each.toFixed(6) }]);

    const before = await creditsOf(t, buyer);
    expect(await recordUsageOk(t, event(buyer, 'ancient', '0005-03-01T12:00:00Z'))).toEqual({ eventId: 'ancient', credits: each.toFixed(6), duplicate: true });
    expect(await recordUsageOk(t, event(buyer, 'far-future', '2026-01-20T00:00:00Z'))).toEqual({ eventId: 'far-future', credits: each.toFixed(6), duplicate: true });
    expect(await creditsOf(t, buyer)).toEqual(before);
  });

  it('charges an event id once per buyer across months: a replay in another month is a duplicate, and the database refuses a second row', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    const other = await fundedBuyer(t, ['100']);
    const [first] = await accepted(buyer, [event(buyer, 'once', '2026-01-15T00:00:00Z')]);
    expect(first).toEqual({ eventId: 'once', status: 'accepted', credits: each.toFixed(6) });
    const before = await creditsOf(t, buyer);

    // The same id in March (another partition), in a batch and alone: answered with the first charge.
    expect(await accepted(buyer, [event(buyer, 'once', '2026-03-15T00:00:00Z')])).toEqual([{ eventId: 'once', status: 'duplicate', credits: each.toFixed(6) }]);
    expect(await recordUsageOk(t, event(buyer, 'once', '2026-04-15T00:00:00Z'))).toEqual({ eventId: 'once', credits: each.toFixed(6), duplicate: true });
    expect(await creditsOf(t, buyer)).toEqual(before);
    expect(D(before.available)).toEqual(D('100').minus(each));
    // Another buyer may use the same id.
    expect(await accepted(other, [event(other, 'once', '2026-03-15T00:00:00Z')])).toEqual([{ eventId: 'once', status: 'accepted', credits: each.toFixed(6) }]);

    // Below the service's check: a second row for the same buyer and id fails its whole statement
    // (unique violation on usage_event_keys), whatever month it is in.
    const insert = (eventId: string, at: string) =>
      q(
        `INSERT INTO usage_events (organization_id, event_id, model, input_tokens, output_tokens, credits, occurred_at, recorded_at)
         VALUES ($1, $2, $3, 1, 1, 0, $4, $4)`,
        [buyer.id, eventId, MODEL, at],
      );
    await expect(insert('once', '2026-02-15T00:00:00Z')).rejects.toMatchObject({ code: '23505', constraint: 'usage_event_keys_pkey' });
    await expect(insert('once', '4000-01-01T00:00:00Z')).rejects.toMatchObject({ code: '23505' });
    expect(await q(`SELECT event_id, tableoid::regclass::text AS part FROM usage_events WHERE organization_id = $1`, [buyer.id])).toEqual([
      { event_id: 'once', part: 'usage_events_p2026_01' },
    ]);
    const keys = await q(`SELECT event_id, credits::text FROM usage_event_keys WHERE organization_id = $1`, [buyer.id]);
    expect(keys.map((k: { event_id: string; credits: string }) => [k.event_id, D(k.credits).toFixed(6)])).toEqual([['once', each.toFixed(6)]]);
  });

  it('creating a month partition moves the rows DEFAULT held for it; they stay reported and deduplicated', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    await accepted(buyer, [event(buyer, 'later-1', '2045-06-01T00:00:00Z'), event(buyer, 'later-2', '2045-06-30T23:59:59.999Z'), event(buyer, 'july', '2045-07-01T00:00:00Z')]);
    expect(await partitionsOf(buyer)).toEqual({ 'later-1': 'usage_events_default', 'later-2': 'usage_events_default', july: 'usage_events_default' });

    // Maintenance for a business clock in May 2045: April to August 2045, for both tables.
    expect(await ensureMonthlyPartitions(t.db.dataSource, new Date('2045-05-20T00:00:00Z'))).toBe(10);
    expect(await partitionsOf(buyer)).toEqual({ 'later-1': 'usage_events_p2045_06', 'later-2': 'usage_events_p2045_06', july: 'usage_events_p2045_07' });
    expect(await ensureMonthlyPartitions(t.db.dataSource, new Date('2045-05-20T00:00:00Z'))).toBe(0);

    expect(await reportOf(buyer, '2045-06-01T00:00:00Z', '2045-08-01T00:00:00Z')).toEqual([
      { key: '2045-06-01', events: 1, credits: each.toFixed(6) },
      { key: '2045-06-30', events: 1, credits: each.toFixed(6) },
      { key: '2045-07-01', events: 1, credits: each.toFixed(6) },
    ]);
    expect(await accepted(buyer, [event(buyer, 'later-2', '2026-01-06T00:00:00Z')])).toEqual([{ eventId: 'later-2', status: 'duplicate', credits: each.toFixed(6) }]);
  });

  it('two maintenance runs at once both succeed, and create each partition once', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    await accepted(buyer, [event(buyer, 'in-2050', '2050-03-10T00:00:00Z')]);
    const runs = await Promise.all([
      ensureMonthlyPartitions(t.db.dataSource, new Date('2050-03-15T00:00:00Z')),
      ensureMonthlyPartitions(t.db.dataSource, new Date('2050-04-15T00:00:00Z')),
    ]);
    // February to June 2050, and March to July 2050: six months of two tables in all.
    expect(runs[0] + runs[1]).toBe(12);
    expect(await partitionsOf(buyer)).toEqual({ 'in-2050': 'usage_events_p2050_03' });
  });
});

describe('month partitions of inference_requests', () => {
  it('stores each request in its month (or DEFAULT), and the request log reads across them newest first', async () => {
    const buyer = await fundedBuyer(t);
    const at = ['2026-01-03T00:00:00Z', '2026-02-11T00:00:00Z', '0100-01-01T00:00:00Z'];
    const ids = at.map(() => randomUUID());
    for (const [k, createdAt] of at.entries()) {
      await q(
        `INSERT INTO inference_requests (id, organization_id, model, status, created_at, finished_at) VALUES ($1, $2, $3, 'SUCCEEDED', $4, $4)`,
        [ids[k], buyer.id, MODEL, createdAt],
      );
    }
    expect(await q(`SELECT id, tableoid::regclass::text AS part FROM inference_requests WHERE organization_id = $1 ORDER BY created_at`, [buyer.id])).toEqual([
      { id: ids[2], part: 'inference_requests_default' },
      { id: ids[0], part: 'inference_requests_p2026_01' },
      { id: ids[1], part: 'inference_requests_p2026_02' },
    ]);
    const res = await t.gql(`{ inferenceRequests(first: 2) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, {}, buyer.key);
    expect(res.errors).toBeUndefined();
    expect(res.data.inferenceRequests.totalCount).toBe(3);
    expect(res.data.inferenceRequests.edges.map((e: any) => e.node.id)).toEqual([ids[1], ids[0]]);
    const next = await t.gql(`query($after: String) { inferenceRequests(first: 2, after: $after) { edges { node { id } } } }`, { after: res.data.inferenceRequests.pageInfo.endCursor }, buyer.key);
    expect(next.data.inferenceRequests.edges.map((e: any) => e.node.id)).toEqual([ids[2]]);
  });
});

describe('the migration and the clock', () => {
  it("the migration's down, then up, keeps every event, key and request", async () => {
    const snapshot = async () => ({
      events: await q(`SELECT id, organization_id, event_id, model, input_tokens, output_tokens, credits::text, occurred_at, recorded_at, hold_id, ledger_transaction_id FROM usage_events ORDER BY id`),
      requests: await q(`SELECT * FROM inference_requests ORDER BY id`),
    });
    const before = await snapshot();
    const keysBefore = await q(`SELECT organization_id, event_id, credits::text FROM usage_event_keys ORDER BY 1, 2`);
    expect(before.events.length).toBeGreaterThan(10);
    expect(before.requests.length).toBe(3);
    const migration = new MonthlyPartitions1763700000017();
    const runner = t.db.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      await migration.down(runner);
      await runner.commitTransaction();
      expect(await q(`SELECT relname, relkind FROM pg_class WHERE relname IN ('usage_events', 'inference_requests', 'usage_event_keys') ORDER BY 1`)).toEqual([
        { relname: 'inference_requests', relkind: 'r' },
        { relname: 'usage_events', relkind: 'r' },
      ]);
      expect(await snapshot()).toEqual(before);

      await runner.startTransaction();
      await migration.up(runner);
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    expect(await q(`SELECT relname, relkind FROM pg_class WHERE relname IN ('usage_events', 'inference_requests', 'usage_event_keys') ORDER BY 1`)).toEqual([
      { relname: 'inference_requests', relkind: 'p' },
      { relname: 'usage_event_keys', relkind: 'r' },
      { relname: 'usage_events', relkind: 'p' },
    ]);
    expect(await snapshot()).toEqual(before);
    expect(await q(`SELECT organization_id, event_id, credits::text FROM usage_event_keys ORDER BY 1, 2`)).toEqual(keysBefore);
    // And metering goes on: a new event is numbered after the moved ones, a replay is a duplicate.
    const buyer = await fundedBuyer(t, ['100']);
    await accepted(buyer, [event(buyer, 'after-up')]);
    const [{ id }] = await q(`SELECT id FROM usage_events WHERE organization_id = $1`, [buyer.id]);
    expect(BigInt(id)).toBeGreaterThan(BigInt(before.events.at(-1).id));
    expect(await accepted(buyer, [event(buyer, 'after-up', '2026-03-01T00:00:00Z')])).toEqual([{ eventId: 'after-up', status: 'duplicate', credits: each.toFixed(6) }]);
  });

  it('advancing the business clock creates the months around it, moving what DEFAULT held', async () => {
    const buyer = await fundedBuyer(t, ['100']);
    await accepted(buyer, [event(buyer, 'in-2060', '2060-02-10T00:00:00Z')]);
    expect(await partitionsOf(buyer)).toEqual({ 'in-2060': 'usage_events_default' });
    await advanceClock(t, '2060-01-20T00:00:00Z');
    expect(await partitionsOf(buyer)).toEqual({ 'in-2060': 'usage_events_p2060_02' });
    // December 2059 (the month before) to April 2060 (three after), for both tables.
    const parts = await q(`SELECT relname FROM pg_class WHERE relkind = 'r' AND (relname LIKE '%\\_p2059\\_%' OR relname LIKE '%\\_p2060\\_%') ORDER BY 1`);
    const months = ['2059_12', '2060_01', '2060_02', '2060_03', '2060_04'];
    expect(parts.map((p: { relname: string }) => p.relname)).toEqual([...months.map((m) => `inference_requests_p${m}`), ...months.map((m) => `usage_events_p${m}`)]);
  });
});
