import { startTestApp, type TestApp } from './support/app.js';
import { ledgerTransactionCount, usageEventsOf } from './support/db-probes.js';
import { createListing } from './support/drivers/listings.js';
import { creditsOf, fundedBuyer } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { register } from './support/drivers/organizations.js';
import { postUsage, recordUsage, recordUsageOk, upsertModel } from './support/drivers/usage.js';
import { D, expectedTokenCost } from './support/oracles.js';

/**
 * SPEC §8: a rate may be zero (the event is accepted at 0.000000 and moves nothing), and one
 * event's refusal or failure never affects another event, in the same batch or in concurrent
 * calls — shown with a free model and with a fault injected into one event's insert.
 */

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '100000', wholesalePricePerGpuHour: '1.50' });
  await upsertModel(t, 'free-model', '0', '0');
  await upsertModel(t, 'paid-model', '2', '4');
  // The injected fault: any insert of event id "poison" fails, as a broken row or a bug would.
  await t.db.dataSource.query(`
    CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.event_id LIKE 'poison%' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$;
    CREATE TRIGGER test_poison BEFORE INSERT ON usage_events FOR EACH ROW EXECUTE FUNCTION test_poison();
  `);
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const paid = (buyer: { id: string }, eventId: string) => ({ organizationId: buyer.id, eventId, model: 'paid-model', inputTokens: 1000, outputTokens: 500 });
const each = expectedTokenCost(1000, 500, '2', '4');

describe('free events', () => {
  it('recordUsage of a zero-rate model is accepted at 0.000000 and moves nothing in the ledger', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const before = await creditsOf(t, buyer);
    const txs = await ledgerTransactionCount(t);
    const res = await recordUsageOk(t, { organizationId: buyer.id, eventId: 'free-1', model: 'free-model', inputTokens: 500, outputTokens: 500 });
    expect(res).toEqual({ eventId: 'free-1', credits: '0.000000', duplicate: false });
    expect(await ledgerTransactionCount(t)).toBe(txs);
    expect(await creditsOf(t, buyer)).toEqual(before);
    const [event] = await usageEventsOf(t, buyer);
    expect(event).toMatchObject({ event_id: 'free-1', credits: '0' });
    // A replay is a duplicate, still free.
    expect(await recordUsageOk(t, { organizationId: buyer.id, eventId: 'free-1', model: 'free-model', inputTokens: 500, outputTokens: 500 })).toMatchObject({ duplicate: true, credits: '0.000000' });
  });

  it('a batch holding a free event charges the others', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const res = await postUsage(t, {
      events: [paid(buyer, 'b-1'), { organizationId: buyer.id, eventId: 'b-free', model: 'free-model', inputTokens: 9, outputTokens: 9 }, paid(buyer, 'b-2')],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => [r.status, r.credits])).toEqual([
      ['accepted', each.toFixed(6)],
      ['accepted', '0.000000'],
      ['accepted', each.toFixed(6)],
    ]);
    expect(D((await creditsOf(t, buyer)).available)).toEqual(D('10').minus(each.times(2)));
  });

  it('30 concurrent calls of another buyer with one free event among them all succeed', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        recordUsage(t, i === 17 ? { organizationId: buyer.id, eventId: 'c-free', model: 'free-model', inputTokens: 1, outputTokens: 1 } : paid(buyer, `c-${i}`)),
      ),
    );
    expect(results.filter((r) => r.errors)).toEqual([]);
    expect(D((await creditsOf(t, buyer)).available)).toEqual(D('10').minus(each.times(29)));
  });
});

describe('a failing event fails alone', () => {
  it('in a batch: the faulty event is rejected, the others are charged', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const res = await postUsage(t, { events: [paid(buyer, 'd-1'), paid(buyer, 'poison-d'), paid(buyer, 'd-2')] });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(res.body.results[1]).toMatchObject({ eventId: 'poison-d', code: 'INTERNAL_SERVER_ERROR' });
    expect(D((await creditsOf(t, buyer)).available)).toEqual(D('10').minus(each.times(2)));
    expect((await usageEventsOf(t, buyer)).map((e) => e.event_id).sort()).toEqual(['d-1', 'd-2']);
  });

  it('in concurrent calls: only the caller of the faulty event gets an error', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const other = await fundedBuyer(t, ['10']);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => recordUsage(t, i === 11 ? paid(buyer, 'poison-e') : paid(i % 2 ? buyer : other, `e-${i}`))),
    );
    const failed = results.flatMap((r, i) => (r.errors ? [i] : []));
    expect(failed).toEqual([11]);
    expect(results[11].code).toBe('INTERNAL_SERVER_ERROR');
    const buyerEvents = Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 11 && i % 2 === 1).length;
    expect(D((await creditsOf(t, buyer)).available)).toEqual(D('10').minus(each.times(buyerEvents)));
    expect(D((await creditsOf(t, other)).available)).toEqual(D('10').minus(each.times(15)));
  });

  it("a batch over several buyers: one buyer's part failing whole fails only its events, in their places", async () => {
    // The batch is charged per buyer (each buyer's queue): every event of `broken` is faulty, so
    // its part fails as a whole; `fine`'s events are charged, and each answer keeps its place.
    const broken = await fundedBuyer(t, ['10']);
    const fine = await fundedBuyer(t, ['10']);
    const res = await postUsage(t, {
      events: [paid(fine, 'g-1'), paid(broken, 'poison-g1'), { organizationId: fine.id, eventId: 'g-bad' }, paid(broken, 'poison-g2'), paid(fine, 'g-2')],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => `${r.eventId}:${r.status}:${r.code ?? r.credits}`)).toEqual([
      `g-1:accepted:${each.toFixed(6)}`,
      'poison-g1:rejected:INTERNAL_SERVER_ERROR',
      'g-bad:rejected:BAD_USER_INPUT',
      'poison-g2:rejected:INTERNAL_SERVER_ERROR',
      `g-2:accepted:${each.toFixed(6)}`,
    ]);
    expect((await creditsOf(t, broken)).available).toBe('10.000000');
    expect(D((await creditsOf(t, fine)).available)).toEqual(D('10').minus(each.times(2)));
    expect(await usageEventsOf(t, broken)).toEqual([]);
    expect((await usageEventsOf(t, fine)).map((e) => e.event_id).sort()).toEqual(['g-1', 'g-2']);
  });

  it('a batch of only faulty events is a server error, and changes nothing', async () => {
    const buyer = await fundedBuyer(t, ['10']);
    const res = await postUsage(t, { events: [paid(buyer, 'poison-f1'), paid(buyer, 'poison-f2')] });
    expect(res.status).toBe(500);
    expect((await creditsOf(t, buyer)).available).toBe('10.000000');
  });
});
