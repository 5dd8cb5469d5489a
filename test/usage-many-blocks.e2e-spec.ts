import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from './support/app.js';
import { blockAccount, ledgerBalance } from './support/db-probes.js';
import { createListing } from './support/drivers/listings.js';
import { creditsOf, fundedBuyer } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { type Org, register } from './support/drivers/organizations.js';
import { postUsage, recordUsage, upsertModel } from './support/drivers/usage.js';
import { alertsOf, setSettings } from './support/alerts.js';
import { D, h100For } from './support/oracles.js';
import { FIRST_BLOCKS } from '../apps/api/src/usage/usage-accounts.js';

/**
 * Issue 13: a charge reads the buyer's first FIRST_BLOCKS spendable blocks in burn-down order when
 * they cover it, else every block (usage-accounts.ts `drawableInTransaction`). A buyer who bought
 * many times has more blocks than that; whichever read a charge takes, the draws, refusals and
 * low-balance alerts are the ones SPEC §6 and §8 give over all of its blocks.
 */

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
  const seller = await register(t, 'SELLER');
  await createListing(t, seller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' });
});
afterAll(async () => {
  await t.close();
});
afterEach(async () => {
  expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
});

const BLOCKS = FIRST_BLOCKS + 8;
const cr = (v: string) => D(v).toFixed(6);

interface BlockView {
  id: string;
  status: string;
  remaining: string;
  expiresAt: string | null;
  createdAt: string;
}

/** The buyer's blocks in SPEC §6's burn-down order (no expiry here: oldest first, then id). */
async function blocksInOrder(buyer: Org): Promise<BlockView[]> {
  const res = await t.gql(`{ creditBalance { blocks { id status remaining expiresAt createdAt } } }`, {}, buyer.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const blocks: BlockView[] = res.data.creditBalance.blocks;
  for (const b of blocks) expect(b.expiresAt).toBeNull();
  return [...blocks].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A buyer with BLOCKS one-credit blocks (one purchase each). */
async function manyBlocks(): Promise<{ buyer: Org; order: string[] }> {
  const buyer = await fundedBuyer(t, Array.from({ length: BLOCKS }, () => '1'));
  const blocks = await blocksInOrder(buyer);
  expect(blocks).toHaveLength(BLOCKS);
  return { buyer, order: blocks.map((b) => b.id) };
}

/** remaining of each block, in burn-down order, from the ledger itself. */
async function remainingInOrder(order: string[]): Promise<string[]> {
  return Promise.all(order.map(async (id) => (await ledgerBalance(t, blockAccount(id))).toFixed(6)));
}

async function charge(buyer: Org, credits: string) {
  return recordUsage(t, { organizationId: buyer.id, eventId: randomUUID(), ...h100For(credits) });
}

describe(`a buyer with more than ${FIRST_BLOCKS} blocks`, () => {
  it('draws in burn-down order whether the first blocks cover the charge or not, and refuses exactly what all of them cannot cover', async () => {
    const { buyer, order } = await manyBlocks();
    const ones = (n: number) => Array.from({ length: n }, () => '1.000000');
    const zeros = (n: number) => Array.from({ length: n }, () => '0.000000');

    // 2.5 credits: the first blocks cover it.
    expect((await charge(buyer, '2.5')).errors).toBeUndefined();
    expect(await remainingInOrder(order)).toEqual([...zeros(2), '0.500000', ...ones(BLOCKS - 3)]);

    // More than the first FIRST_BLOCKS blocks hold: every block is read; one event spans 34 blocks.
    expect((await charge(buyer, String(FIRST_BLOCKS + 1))).errors).toBeUndefined();
    expect(await remainingInOrder(order)).toEqual([...zeros(FIRST_BLOCKS + 3), '0.500000', ...ones(BLOCKS - FIRST_BLOCKS - 4)]);
    const statuses = (await blocksInOrder(buyer)).map((b) => b.status);
    expect(statuses).toEqual([...Array(FIRST_BLOCKS + 3).fill('EXHAUSTED'), ...Array(BLOCKS - FIRST_BLOCKS - 3).fill('ACTIVE')]);

    // 4.5 credits are left in all: 4.500001 is refused whole, 4.5 drains every block.
    const left = (await creditsOf(t, buyer)).available;
    expect(left).toBe('4.500000');
    const refused = await charge(buyer, '4.500001');
    expect(refused.code).toBe('INSUFFICIENT_CREDITS');
    expect(await remainingInOrder(order)).toEqual([...zeros(FIRST_BLOCKS + 3), '0.500000', ...ones(BLOCKS - FIRST_BLOCKS - 4)]);
    expect((await charge(buyer, '4.5')).errors).toBeUndefined();
    expect(await remainingInOrder(order)).toEqual(zeros(BLOCKS));
    expect((await creditsOf(t, buyer)).available).toBe('0.000000');
  });

  it('the begin call reads only the blocks that cover the most its events could cost, in burn-down order', async () => {
    const { buyer, order } = await manyBlocks();
    // usage_charge_begin (migration 1763700000020), as a charge calls it: H100 events of these credits.
    const read = async (events: { credits?: string; model?: string }[]): Promise<string[]> => {
      const [{ doc }] = await t.db.dataSource.query(
        `SELECT usage_charge_begin($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::text[],
                $10::numeric[], now(), $11::int) AS doc`,
        [
          [buyer.id],
          events.flatMap((e) => (e.model ? [e.model] : [])),
          ['H100'],
          events.map(() => buyer.id),
          events.map(() => randomUUID()),
          events.map((e) => e.model ?? null),
          events.map((e) => (e.model ? 1000 : null)),
          events.map((e) => (e.model ? 1000 : null)),
          events.map((e) => (e.model ? null : 'H100')),
          events.map((e) => (e.model ? null : h100For(e.credits!).gpuSeconds)),
          FIRST_BLOCKS,
        ],
      );
      return (doc.blocks as { id: string }[]).map((b) => b.id);
    };
    expect(await read([{ credits: '0.5' }])).toEqual(order.slice(0, 1));
    expect(await read([{ credits: '1' }])).toEqual(order.slice(0, 1));
    expect(await read([{ credits: '1.000001' }])).toEqual(order.slice(0, 2));
    expect(await read([{ credits: '0.6' }, { credits: '0.6' }, { credits: '1.5' }])).toEqual(order.slice(0, 3));
    expect(await read([{ credits: String(BLOCKS) }])).toEqual(order.slice(0, FIRST_BLOCKS));
    // Tokens at their rate card: 1000 input and 1000 output tokens at 500 and 250.000001 credits per
    // million is 0.750000001, rounded up to 0.750001 (one block); twice that needs two.
    await upsertModel(t, 'many-blocks-model', '500', '250.000001');
    expect(await read([{ model: 'many-blocks-model' }])).toEqual(order.slice(0, 1));
    expect(await read([{ model: 'many-blocks-model' }, { model: 'many-blocks-model' }])).toEqual(order.slice(0, 2));
    // Nothing priced (a model without a rate card): no block read.
    expect(await read([{ model: 'no-such-model' }])).toEqual([]);
    // After a charge, the drawn blocks are skipped by what they no longer hold.
    expect((await charge(buyer, '1.5')).errors).toBeUndefined();
    expect(await read([{ credits: '0.5' }])).toEqual(order.slice(1, 2));
    expect(await read([{ credits: '0.6' }])).toEqual(order.slice(1, 3));
  });

  it('the charge and gateway cycle functions plan their statements once per connection (generic plans)', async () => {
    const found: { name: string; config: string[] | null }[] = await t.db.dataSource.query(
      `SELECT proname AS name, proconfig AS config FROM pg_proc WHERE proname = ANY($1) ORDER BY proname`,
      [['gateway_cycle_begin', 'gateway_cycle_end', 'usage_charge_begin']],
    );
    expect(found).toEqual(['gateway_cycle_begin', 'gateway_cycle_end', 'usage_charge_begin'].map((name) => ({ name, config: ['plan_cache_mode=force_generic_plan'] })));
  });

  it('a REST batch whose events together need more than the first blocks: accepted in order until the credits run out', async () => {
    const { buyer, order } = await manyBlocks();
    const events = Array.from({ length: BLOCKS + 2 }, (_, i) => ({ organizationId: buyer.id, eventId: `many-${i}`, ...h100For('1') }));
    // The same event twice in one batch is charged once.
    events.splice(1, 0, { ...events[0] });
    const res = await postUsage(t, { events });
    expect(res.status).toBe(200);
    const results: { status: string; code?: string; credits?: string }[] = res.body.results;
    expect(results.map((r) => r.status)).toEqual(['accepted', 'duplicate', ...Array(BLOCKS - 1).fill('accepted'), 'rejected', 'rejected']);
    expect(results.slice(-2).map((r) => r.code)).toEqual(['INSUFFICIENT_CREDITS', 'INSUFFICIENT_CREDITS']);
    expect(await remainingInOrder(order)).toEqual(Array(BLOCKS).fill('0.000000'));
  });

  it('raises LOW_BALANCE once, on the charge that crosses the threshold, with the totals over every block', async () => {
    const { buyer } = await manyBlocks();
    await setSettings(t, buyer, { lowBalanceThreshold: '30' });
    const low = async () => (await alertsOf(t, buyer)).filter((a) => a.kind === 'LOW_BALANCE');

    // 40 → 31: above the threshold, no alert (drawn from the first blocks alone).
    expect((await charge(buyer, '9')).errors).toBeUndefined();
    expect(await low()).toEqual([]);
    // 31 → 29.5: crosses it.
    expect((await charge(buyer, '1.5')).errors).toBeUndefined();
    const alerts = await low();
    expect(alerts.map((a) => a.message)).toEqual([`Your available credits fell below ${cr('30')}: ${cr('29.5')} left.`]);
    const [row] = await t.db.dataSource.query(`SELECT data FROM alerts WHERE organization_id = $1 AND kind = 'LOW_BALANCE'`, [buyer.id]);
    expect(row.data).toEqual({ threshold: cr('30'), before: cr(String(BLOCKS - 9)), after: cr('29.5') });
    // Below it already: no second alert.
    expect((await charge(buyer, '1')).errors).toBeUndefined();
    expect(await low()).toHaveLength(1);
  });

  it('queues the auto-refill on the charge that crosses its threshold, for a buyer with no low-balance threshold', async () => {
    const { buyer } = await manyBlocks();
    await setSettings(t, buyer, { autoRefillThreshold: '35', autoRefillCredits: '5' });
    const jobs = () => t.db.dataSource.query(`SELECT status, credits::text AS credits FROM auto_refill_jobs WHERE organization_id = $1`, [buyer.id]);

    // 40 → 35: not below it.
    expect((await charge(buyer, '5')).errors).toBeUndefined();
    expect(await jobs()).toEqual([]);
    // 35 → 34.999999: below it, one job with the settings' credits; no LOW_BALANCE (none is set).
    expect((await charge(buyer, '0.000001')).errors).toBeUndefined();
    expect(await jobs()).toEqual([{ status: 'PENDING', credits: '5' }]);
    expect((await alertsOf(t, buyer)).filter((a) => a.kind === 'LOW_BALANCE')).toEqual([]);
    expect((await creditsOf(t, buyer)).available).toBe('34.999999');
  });
});
