import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Decimal } from '@ccx/core';
import { deposit, listing, mediumAppPerBlock, organization } from '../../../../test/support/medium.js';
import { BalanceSettingsService } from '../alerts/balance-settings.service.js';
import { parseBalanceSettingsPatch } from '../alerts/domain/alert-commands.js';
import { parsePurchaseCommand, PurchasesService } from '../purchases/index.js';
import { UsageHoldsService } from '../usage/index.js';
import { GatewayCreditsService, type CloseRequest, type OpenRequest } from './gateway-credits.service.js';

/**
 * The gateway's holds and captures (GatewayCreditsService) on the real database: concurrent
 * requests of one buyer go through shared cycles of a few statements each, never spend more than
 * the buyer has, and every charge is settled exactly once, even against hold expiry.
 */
const app = mediumAppPerBlock();

const RATE = { inputPerMillion: new Decimal(100), outputPerMillion: new Decimal(300) };

/** A buyer holding one block of `credits`, and a seller's listing to serve it. */
async function buyerWith(credits: string) {
  const m = app();
  const seller = await organization(m, 'SELLER');
  const served = await listing(m, seller, '100000', '1.50');
  const buyer = await organization(m, 'BUYER');
  await deposit(m, buyer, '10000.00');
  const { block } = await m.get(PurchasesService).purchase(parsePurchaseCommand(buyer, { credits, idempotencyKey: `block-${randomUUID()}` }));
  return { m, buyer, seller, listingId: served.id as string, blockAccount: block.ledgerAccountId };
}

function openOf(organizationId: string, hold: string): OpenRequest {
  return { requestId: randomUUID(), organizationId, apiKeyId: null, keyLimit: null, model: 'm-test', hold: new Decimal(hold), stream: false };
}

function closeOf(open: OpenRequest, holdId: string | null, tokens: { input: number; output: number }, extra: Partial<CloseRequest> = {}): CloseRequest {
  return {
    requestId: open.requestId,
    organizationId: open.organizationId,
    apiKeyId: null,
    holdId,
    hold: open.hold,
    opened: false,
    rate: RATE,
    model: open.model,
    stream: false,
    status: 'SUCCEEDED',
    charge: true,
    inputTokens: tokens.input,
    outputTokens: tokens.output,
    estimated: false,
    endpointId: null,
    listingId: null,
    sellerId: null,
    attempts: 1,
    latencyMs: 5,
    ttftMs: null,
    errorCode: null,
    startedAt: new Date(),
    ...extra,
  };
}

/** Statements sent by every pg client of this process while `work` runs. */
async function countStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { text: string };
    statements.push(typeof q === 'string' ? q : q.text);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return { result: await work(), statements };
  } finally {
    pg.Client.prototype.query = original;
  }
}

describe('GatewayCreditsService', () => {
  it('holds for 10 concurrent requests and captures them in shared cycles of a few statements, charging exactly', async () => {
    const { m, buyer, listingId, blockAccount } = await buyerWith('100');
    const credits = m.get(GatewayCreditsService);
    const opens = Array.from({ length: 10 }, () => openOf(buyer, '1'));

    const opened = await countStatements(() => Promise.all(opens.map((o) => credits.open(o))));
    expect(opened.result.every((o) => o.ok && o.holdId)).toBe(true);
    // One cycle for all ten: BEGIN, the begin call, the ledger holds, the end call, COMMIT.
    if (process.env.GW_PRINT_STATEMENTS) console.log('open cycle statements', opened.statements.length, opened.statements.map((q) => q.slice(0, 60)));
    expect(opened.statements.length).toBeGreaterThan(0);
    expect(opened.statements.length).toBeLessThanOrEqual(5);
    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal(100), held: new Decimal(10), available: new Decimal(90) });

    const tokens = opens.map((_, i) => ({ input: 1000 + i, output: 500 + i }));
    const closed = await countStatements(() =>
      Promise.all(opens.map((o, i) => credits.close(closeOf(o, (opened.result[i] as { holdId: string }).holdId, tokens[i], { listingId })))),
    );
    // BEGIN, the begin call (locks, release, reads), the ledger transaction, the end call, COMMIT.
    if (process.env.GW_PRINT_STATEMENTS) console.log('close cycle statements', closed.statements.length, closed.statements.map((q) => q.slice(0, 60)));
    expect(closed.statements.length).toBeGreaterThan(0);
    expect(closed.statements.length).toBeLessThanOrEqual(5);
    const expected = tokens.map((t) => new Decimal(t.input).times(100).plus(new Decimal(t.output).times(300)).div(1_000_000));
    const total = expected.reduce((a, b) => a.plus(b), new Decimal(0));
    expect(closed.result.map((c) => c.credits)).toEqual(expected);
    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal(100).minus(total), held: new Decimal(0), available: new Decimal(100).minus(total) });

    const [events] = await m.manager.query(`SELECT count(*)::int AS n, sum(credits)::text AS credits FROM usage_events WHERE organization_id = $1`, [buyer]);
    expect(events.n).toBe(10);
    expect(new Decimal(events.credits)).toEqual(total);
    const [log] = await m.manager.query(`SELECT count(*)::int AS n, sum(credits)::text AS credits FROM inference_requests WHERE organization_id = $1 AND status = 'SUCCEEDED'`, [buyer]);
    expect(log.n).toBe(10);
    expect(new Decimal(log.credits)).toEqual(total);
    const [served] = await m.manager.query(`SELECT served_credits::text AS served FROM listing_service WHERE listing_id = $1`, [listingId]);
    expect(new Decimal(served.served)).toEqual(total);
    const holds = await m.manager.query(`SELECT status FROM usage_holds WHERE organization_id = $1`, [buyer]);
    expect(holds.map((h: { status: string }) => h.status)).toEqual(Array(10).fill('CAPTURED'));
  });

  it('40 concurrent requests on one buyer never hold more than it has; the ones that fit are charged exactly once', async () => {
    const { m, buyer, blockAccount } = await buyerWith('10');
    const credits = m.get(GatewayCreditsService);
    const opens = Array.from({ length: 40 }, () => openOf(buyer, '0.7'));
    const opened = await Promise.all(opens.map((o) => credits.open(o)));
    const ok = opened.filter((o) => o.ok);
    // 10 credits cover 14 holds of 0.7, never 15.
    expect(ok).toHaveLength(14);
    expect(opened.filter((o) => !o.ok).every((o) => !o.ok && o.code === 'INSUFFICIENT_CREDITS' && o.available.eq('0.2'))).toBe(true);
    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal(10), held: new Decimal('9.8'), available: new Decimal('0.2') });

    // Every capture asks more than its hold: each is charged its hold, never more.
    const closes = opens.flatMap((o, i) => (opened[i].ok ? [closeOf(o, (opened[i] as { holdId: string }).holdId, { input: 10_000_000, output: 0 })] : []));
    const closed = await Promise.all(closes.map((c) => credits.close(c)));
    expect(closed.every((c) => c.credits.eq('0.7'))).toBe(true);
    expect(await m.balance(blockAccount)).toEqual({ posted: new Decimal('0.2'), held: new Decimal(0), available: new Decimal('0.2') });
    const [events] = await m.manager.query(`SELECT count(*)::int AS n, sum(credits)::text AS credits FROM usage_events WHERE organization_id = $1`, [buyer]);
    expect(events.n).toBe(14);
    expect(new Decimal(events.credits)).toEqual(new Decimal('9.8'));
  });

  it('a capture racing the hold expiry settles the call once', async () => {
    const { m, buyer, blockAccount } = await buyerWith('10');
    const credits = m.get(GatewayCreditsService);
    const holds = m.get(UsageHoldsService);
    for (let round = 0; round < 5; round++) {
      const before = await m.balance(blockAccount);
      const open = openOf(buyer, '1');
      const opened = await credits.open(open);
      if (!opened.ok) throw new Error('hold refused');
      const late = new Date(Date.now() + 24 * 3600_000);
      const [closed] = await Promise.all([credits.close(closeOf(open, opened.holdId, { input: 1000, output: 1000 })), holds.expireDue(late)]);
      expect(closed.credits).toEqual(new Decimal('0.4'));
      expect(await m.balance(blockAccount)).toEqual({ posted: before.posted.minus('0.4'), held: new Decimal(0), available: before.posted.minus('0.4') });
      const [events] = await m.manager.query(`SELECT count(*)::int AS n FROM usage_events WHERE organization_id = $1 AND event_id = $2`, [buyer, open.requestId]);
      expect(events.n).toBe(1);
      const legs = await m.manager.query(
        `SELECT l.status FROM usage_holds u JOIN ledger_holds l ON l.id = ANY(u.ledger_hold_ids) WHERE u.id = $1`,
        [opened.holdId],
      );
      expect(legs.length).toBeGreaterThan(0);
      expect(legs.every((l: { status: string }) => l.status === 'VOIDED' || l.status === 'EXPIRED')).toBe(true);
    }
  });

  it('holds that take the buyer below its thresholds raise one LOW_BALANCE alert and queue one auto-refill; holds above them raise none', async () => {
    const { m, buyer } = await buyerWith('10');
    await m.get(BalanceSettingsService).update(buyer, parseBalanceSettingsPatch({ lowBalanceThreshold: '5', autoRefillThreshold: '4', autoRefillCredits: '10' }, false));
    const credits = m.get(GatewayCreditsService);
    const counts = async () => {
      const [a] = await m.manager.query(`SELECT count(*)::int AS n FROM alerts WHERE organization_id = $1 AND kind = 'LOW_BALANCE'`, [buyer]);
      const [j] = await m.manager.query(`SELECT count(*)::int AS n FROM auto_refill_jobs WHERE organization_id = $1`, [buyer]);
      return [a.n, j.n];
    };
    expect((await credits.open(openOf(buyer, '3'))).ok).toBe(true);
    expect(await counts()).toEqual([0, 0]);
    // 7 → 1 in one cycle: below both thresholds once.
    const both = await Promise.all([credits.open(openOf(buyer, '3')), credits.open(openOf(buyer, '3'))]);
    expect(both.every((o) => o.ok)).toBe(true);
    expect(await counts()).toEqual([1, 1]);
    expect((await credits.open(openOf(buyer, '0.5'))).ok).toBe(true);
    expect(await counts()).toEqual([1, 1]);
  });
});
