import { Decimal } from '@ccx/core';
import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { Ledger } from './ledger.js';
import { LedgerError } from './ledger-errors.js';
import { withTransaction } from './transaction.js';
import type { Account, Hold, HoldInput } from './types.js';

/**
 * Two-phase transfers on the real PostgreSQL. `expireHolds` works on every hold of the database,
 * so the tests that call it use their own era (holds due long before T0) and only look at their
 * own holds.
 */

const T0 = new Date('2026-01-05T12:00:00.000Z');
const HOUR = 3_600_000;
const LATER = new Date(T0.getTime() + HOUR);
let db: LedgerTestDatabase;
let ledger: Ledger;
let seq = 0;

beforeAll(async () => {
  db = await createLedgerTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(() => {
  ledger = new Ledger();
});

const key = (label: string) => `${label}-${++seq}`;

async function account(code: string, opts: Partial<{ asset: string; allowNegative: boolean; allowPositive: boolean; shards: number }> = {}): Promise<Account> {
  return ledger.createAccount(db.dataSource.manager, {
    code: `${code}-${++seq}`,
    asset: opts.asset ?? 'USD',
    allowNegative: opts.allowNegative ?? false,
    allowPositive: opts.allowPositive ?? true,
    shards: opts.shards,
  });
}

/** A source that may go negative (the outside world), a funded wallet and a merchant to pay. */
async function setup(amount: string): Promise<{ source: Account; wallet: Account; merchant: Account }> {
  const source = await account('source', { allowNegative: true });
  const wallet = await account('wallet');
  const merchant = await account('merchant');
  await ledger.transfer(db.dataSource.manager, {
    idempotencyKey: key('fund'),
    kind: 'deposit',
    effectiveAt: T0,
    debitAccountId: source.id,
    creditAccountId: wallet.id,
    amount,
  });
  return { source, wallet, merchant };
}

/** posted / held / available, at the asset's 2 decimals. */
async function balanceOf(id: string): Promise<{ posted: string; held: string; available: string }> {
  const b = await ledger.balance(db.dataSource.manager, id);
  expect(b.available.eq(b.posted.minus(b.held))).toBe(true);
  return { posted: b.posted.toFixed(2), held: b.held.toFixed(2), available: b.available.toFixed(2) };
}

function holdInput(wallet: Account, merchant: Account, amount: string, expiresAt = LATER): HoldInput {
  return { idempotencyKey: key('hold'), debitAccountId: wallet.id, creditAccountId: merchant.id, amount, expiresAt };
}

function createHold(input: HoldInput): Promise<Hold> {
  return ledger.createHold(db.dataSource.manager, input);
}

async function caught(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => null,
    (e) => e,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

async function expectLedgerError(promise: Promise<unknown>, reason: string): Promise<void> {
  const error = await caught(promise);
  expect(error.reason).toBe(reason);
}

function reasonOf(result: PromiseSettledResult<unknown>): string {
  if (result.status !== 'rejected') throw new Error('expected a rejection, got a result');
  if (!(result.reason instanceof LedgerError)) throw result.reason;
  return String(result.reason.reason);
}

async function holdCount(accountId: string): Promise<number> {
  const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_holds WHERE debit_account_id = $1`, [accountId]);
  return n;
}

async function expectBalancedLedger(): Promise<void> {
  const report = await ledger.verify(db.dataSource);
  expect(report.problems).toEqual([]);
  expect(report.balanced).toBe(true);
}

describe('creating a hold', () => {
  it('reduces available but not posted, and limits later debits to what is left', async () => {
    const { wallet, merchant } = await setup('10.00');
    const hold = await createHold(holdInput(wallet, merchant, '4.00'));
    expect(hold).toMatchObject({ status: 'PENDING', debitAccountId: wallet.id, creditAccountId: merchant.id, asset: 'USD', postedAmount: null, transactionId: null });
    expect(hold.amount.toFixed(2)).toBe('4.00');
    expect(hold.expiresAt.toISOString()).toBe(LATER.toISOString());
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '4.00', available: '6.00' });
    expect(await balanceOf(merchant.id)).toEqual({ posted: '0.00', held: '0.00', available: '0.00' });
    expect((await ledger.pendingHolds(db.dataSource.manager, wallet.id)).map((h) => h.id)).toEqual([hold.id]);
    expect((await ledger.hold(db.dataSource.manager, hold.id)).status).toBe('PENDING');

    const debit = (amount: string) =>
      ledger.transfer(db.dataSource.manager, { idempotencyKey: key('spend'), kind: 'spend', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: merchant.id, amount });
    await expectLedgerError(debit('6.01'), 'LIMIT_EXCEEDED');
    await debit('6.00');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '4.00', held: '4.00', available: '0.00' });
    await expectBalancedLedger();
  });

  it('refuses a hold larger than available and changes nothing', async () => {
    const { wallet, merchant } = await setup('10.00');
    await createHold(holdInput(wallet, merchant, '6.00'));
    await expectLedgerError(createHold(holdInput(wallet, merchant, '4.01')), 'LIMIT_EXCEEDED');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '6.00', available: '4.00' });
    expect(await holdCount(wallet.id)).toBe(1);
    // Exactly what is available may be held.
    await createHold(holdInput(wallet, merchant, '4.00'));
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '10.00', available: '0.00' });
    expect(await holdCount(wallet.id)).toBe(2);
  });

  it.each(['0', '-1.00', '1.001', 'abc'])('refuses amount %p as INVALID_AMOUNT and holds nothing', async (amount) => {
    const { wallet, merchant } = await setup('10.00');
    await expectLedgerError(createHold(holdInput(wallet, merchant, amount)), 'INVALID_AMOUNT');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '0.00', available: '10.00' });
    expect(await holdCount(wallet.id)).toBe(0);
  });

  it('refuses holds on a sharded account, onto an account that may not go positive, across assets, and unknown holds', async () => {
    const { wallet, merchant } = await setup('10.00');
    const sharded = await account('hot', { allowNegative: true, shards: 4 });
    const capped = await account('capped', { allowNegative: true, allowPositive: false });
    const credits = await account('credits', { asset: 'CREDIT' });
    await expectLedgerError(createHold(holdInput(sharded, merchant, '1.00')), 'INVALID_TRANSACTION');
    await expectLedgerError(createHold(holdInput(wallet, capped, '1.00')), 'INVALID_TRANSACTION');
    await expectLedgerError(createHold(holdInput(wallet, credits, '1.00')), 'UNBALANCED');
    await expectLedgerError(createHold(holdInput(wallet, { ...merchant, id: '999999999' }, '1.00')), 'ACCOUNT_NOT_FOUND');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '0.00', available: '10.00' });
    await expectLedgerError(ledger.postHold(db.dataSource.manager, { holdId: '999999999', effectiveAt: T0 }), 'HOLD_NOT_FOUND');
    await expectLedgerError(ledger.voidHold(db.dataSource.manager, 'not-an-id', T0), 'HOLD_NOT_FOUND');
  });

  it('returns the same hold for the same key and content, and refuses the key with other content', async () => {
    const { wallet, merchant } = await setup('10.00');
    const other = await account('other');
    const input = holdInput(wallet, merchant, '3.00');
    const first = await createHold(input);
    const again = await createHold({ ...input });
    expect(again.id).toBe(first.id);
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '3.00', available: '7.00' });
    expect(await holdCount(wallet.id)).toBe(1);

    await expectLedgerError(createHold({ ...input, amount: '3.01' }), 'IDEMPOTENCY_CONFLICT');
    await expectLedgerError(createHold({ ...input, creditAccountId: other.id }), 'IDEMPOTENCY_CONFLICT');
    await expectLedgerError(createHold({ ...input, metadata: { order: 1 } }), 'IDEMPOTENCY_CONFLICT');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '3.00', available: '7.00' });
    expect(await holdCount(wallet.id)).toBe(1);

    // A replay after the hold was posted answers the hold as it is now and holds nothing more.
    await ledger.postHold(db.dataSource.manager, { holdId: first.id, effectiveAt: T0 });
    const afterPost = await createHold(input);
    expect(afterPost).toMatchObject({ id: first.id, status: 'POSTED' });
    expect(await balanceOf(wallet.id)).toEqual({ posted: '7.00', held: '0.00', available: '7.00' });
    expect(await holdCount(wallet.id)).toBe(1);
  });

  it('answers concurrent creations with one key and content with the one hold, even when it takes all that is available', async () => {
    const { wallet, merchant } = await setup('10.00');
    const input = holdInput(wallet, merchant, '10.00');
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => withTransaction(db.dataSource, (m) => ledger.createHold(m, input))));
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<Hold>).value.id));
    expect(ids.size).toBe(1);
    expect(await holdCount(wallet.id)).toBe(1);
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '10.00', available: '0.00' });
    await expectBalancedLedger();
  });

  it('lets one content win a contested hold key and answers the other IDEMPOTENCY_CONFLICT', async () => {
    const { wallet, merchant } = await setup('10.00');
    const idempotencyKey = key('contested-hold');
    const amounts = Array.from({ length: 12 }, (_, i) => (i % 2 ? '6.00' : '10.00'));
    const results = await Promise.allSettled(
      amounts.map((amount) =>
        withTransaction(db.dataSource, (m) => ledger.createHold(m, { idempotencyKey, debitAccountId: wallet.id, creditAccountId: merchant.id, amount, expiresAt: LATER })),
      ),
    );
    expect(await holdCount(wallet.id)).toBe(1);
    const [stored] = await ledger.pendingHolds(db.dataSource.manager, wallet.id);
    const winner = stored.amount.toFixed(2);
    results.forEach((r, i) => {
      if (amounts[i] === winner) {
        expect(r.status).toBe('fulfilled');
        expect((r as PromiseFulfilledResult<Hold>).value.id).toBe(stored.id);
      } else {
        expect(reasonOf(r)).toBe('IDEMPOTENCY_CONFLICT');
      }
    });
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: winner, available: new Decimal('10.00').minus(winner).toFixed(2) });
    await expectBalancedLedger();
  });
});

describe('resolving a hold', () => {
  it('posts part of a hold and releases the rest', async () => {
    const { wallet, merchant } = await setup('10.00');
    const hold = await createHold(holdInput(wallet, merchant, '6.00'));
    const { hold: after, transaction } = await ledger.postHold(db.dataSource.manager, {
      holdId: hold.id,
      amount: '2.50',
      memo: 'usage',
      effectiveAt: T0,
    });
    expect(after).toMatchObject({ id: hold.id, status: 'POSTED', transactionId: transaction.id });
    expect(after.postedAmount?.toFixed(2)).toBe('2.50');
    expect(after.amount.toFixed(2)).toBe('6.00');
    expect(transaction).toMatchObject({ idempotencyKey: `hold:${hold.id}:post`, kind: 'hold.post', memo: 'usage', replayed: false });
    expect(transaction.metadata).toEqual({ holdId: hold.id });
    expect(await balanceOf(wallet.id)).toEqual({ posted: '7.50', held: '0.00', available: '7.50' });
    expect(await balanceOf(merchant.id)).toEqual({ posted: '2.50', held: '0.00', available: '2.50' });
    const entries = await db.dataSource.query(
      `SELECT account_id::text AS account_id, amount::text AS amount FROM ledger_entries WHERE transaction_id = $1 ORDER BY amount`,
      [transaction.id],
    );
    expect(entries.map((e: { account_id: string; amount: string }) => [e.account_id, new Decimal(e.amount).toFixed(2)])).toEqual([
      [wallet.id, '-2.50'],
      [merchant.id, '2.50'],
    ]);
    expect(await ledger.pendingHolds(db.dataSource.manager, wallet.id)).toEqual([]);
    await expectBalancedLedger();
  });

  it('posts the whole hold by default, beside other holds that stay', async () => {
    const { wallet, merchant } = await setup('10.00');
    const a = await createHold(holdInput(wallet, merchant, '4.00'));
    const b = await createHold(holdInput(wallet, merchant, '5.00'));
    const { hold } = await ledger.postHold(db.dataSource.manager, { holdId: a.id, effectiveAt: T0 });
    expect(hold.postedAmount?.toFixed(2)).toBe('4.00');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '6.00', held: '5.00', available: '1.00' });
    expect(await balanceOf(merchant.id)).toEqual({ posted: '4.00', held: '0.00', available: '4.00' });
    expect((await ledger.pendingHolds(db.dataSource.manager, wallet.id)).map((h) => h.id)).toEqual([b.id]);
  });

  it('voids a hold, releasing all of it and moving nothing', async () => {
    const { wallet, merchant } = await setup('10.00');
    const hold = await createHold(holdInput(wallet, merchant, '6.00'));
    const voided = await ledger.voidHold(db.dataSource.manager, hold.id, T0);
    expect(voided).toMatchObject({ id: hold.id, status: 'VOIDED', postedAmount: null, transactionId: null });
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '0.00', available: '10.00' });
    expect(await balanceOf(merchant.id)).toEqual({ posted: '0.00', held: '0.00', available: '0.00' });
    await expectBalancedLedger();
  });

  it('resolves a hold once: a posted or voided hold cannot be posted or voided again', async () => {
    const { wallet, merchant } = await setup('10.00');
    const posted = await createHold(holdInput(wallet, merchant, '3.00'));
    const voided = await createHold(holdInput(wallet, merchant, '2.00'));
    await ledger.postHold(db.dataSource.manager, { holdId: posted.id, amount: '1.00', effectiveAt: T0 });
    await ledger.voidHold(db.dataSource.manager, voided.id, T0);
    const before = await balanceOf(wallet.id);
    expect(before).toEqual({ posted: '9.00', held: '0.00', available: '9.00' });

    for (const id of [posted.id, voided.id]) {
      await expectLedgerError(ledger.postHold(db.dataSource.manager, { holdId: id, effectiveAt: T0 }), 'HOLD_RESOLVED');
      await expectLedgerError(ledger.postHold(db.dataSource.manager, { holdId: id, amount: '0.50', idempotencyKey: key('again'), effectiveAt: T0 }), 'HOLD_RESOLVED');
      await expectLedgerError(ledger.voidHold(db.dataSource.manager, id, T0), 'HOLD_RESOLVED');
    }
    expect(await balanceOf(wallet.id)).toEqual(before);
    expect(await balanceOf(merchant.id)).toEqual({ posted: '1.00', held: '0.00', available: '1.00' });
    expect((await ledger.hold(db.dataSource.manager, posted.id)).status).toBe('POSTED');
    expect((await ledger.hold(db.dataSource.manager, voided.id)).status).toBe('VOIDED');
    await expectBalancedLedger();
  });

  it.each(['6.01', '0', '1.001'])('refuses to post %p of a hold of 6.00 and leaves it pending', async (amount) => {
    const { wallet, merchant } = await setup('10.00');
    const hold = await createHold(holdInput(wallet, merchant, '6.00'));
    await expectLedgerError(ledger.postHold(db.dataSource.manager, { holdId: hold.id, amount, effectiveAt: T0 }), 'INVALID_AMOUNT');
    expect((await ledger.hold(db.dataSource.manager, hold.id)).status).toBe('PENDING');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '6.00', available: '4.00' });
    expect(await balanceOf(merchant.id)).toEqual({ posted: '0.00', held: '0.00', available: '0.00' });
    // Still postable in full.
    await ledger.postHold(db.dataSource.manager, { holdId: hold.id, amount: '6.00', effectiveAt: T0 });
    expect(await balanceOf(wallet.id)).toEqual({ posted: '4.00', held: '0.00', available: '4.00' });
  });

  it('refuses to post a hold at or after its expiresAt, and accepts it just before', async () => {
    const { wallet, merchant } = await setup('10.00');
    const hold = await createHold(holdInput(wallet, merchant, '5.00', LATER));
    await expectLedgerError(ledger.postHold(db.dataSource.manager, { holdId: hold.id, effectiveAt: LATER }), 'HOLD_EXPIRED');
    await expectLedgerError(
      ledger.postHold(db.dataSource.manager, { holdId: hold.id, effectiveAt: new Date(LATER.getTime() + 1) }),
      'HOLD_EXPIRED',
    );
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '5.00', available: '5.00' });
    const { hold: after } = await ledger.postHold(db.dataSource.manager, { holdId: hold.id, effectiveAt: new Date(LATER.getTime() - 1) });
    expect(after.status).toBe('POSTED');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '5.00', held: '0.00', available: '5.00' });
  });

  it('expires only the holds that are due, and an expired hold stays resolved', async () => {
    // Its own era: no other test's hold is due this early.
    const era = new Date('2001-01-01T00:00:00.000Z').getTime();
    const { wallet, merchant } = await setup('10.00');
    const second = await setup('10.00');
    const h1 = await createHold(holdInput(wallet, merchant, '1.00', new Date(era + HOUR)));
    const h2 = await createHold(holdInput(second.wallet, merchant, '2.00', new Date(era + 2 * HOUR)));
    const h3 = await createHold(holdInput(wallet, merchant, '3.00', new Date(era + 3 * HOUR)));
    const h4 = await createHold(holdInput(wallet, merchant, '4.00', new Date(era + 2 * HOUR)));
    await ledger.voidHold(db.dataSource.manager, h4.id, new Date(era));

    expect(await ledger.expireHolds(db.dataSource.manager, new Date(era + HOUR - 1))).toEqual([]);
    // Due at exactly its deadline.
    const expired = await withTransaction(db.dataSource, (m) => ledger.expireHolds(m, new Date(era + 2 * HOUR)));
    expect(expired.map((h) => [h.id, h.status]).sort()).toEqual(
      [
        [h1.id, 'EXPIRED'],
        [h2.id, 'EXPIRED'],
      ].sort(),
    );
    expect((await ledger.hold(db.dataSource.manager, h1.id)).status).toBe('EXPIRED');
    expect((await ledger.hold(db.dataSource.manager, h2.id)).status).toBe('EXPIRED');
    expect((await ledger.hold(db.dataSource.manager, h3.id)).status).toBe('PENDING');
    expect((await ledger.hold(db.dataSource.manager, h4.id)).status).toBe('VOIDED');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '3.00', available: '7.00' });
    expect(await balanceOf(second.wallet.id)).toEqual({ posted: '10.00', held: '0.00', available: '10.00' });
    expect(await balanceOf(merchant.id)).toEqual({ posted: '0.00', held: '0.00', available: '0.00' });

    // Nothing more is due; an expired hold cannot be posted or voided.
    expect(await ledger.expireHolds(db.dataSource.manager, new Date(era + 2 * HOUR))).toEqual([]);
    await expectLedgerError(ledger.postHold(db.dataSource.manager, { holdId: h1.id, effectiveAt: new Date(era) }), 'HOLD_RESOLVED');
    await expectLedgerError(ledger.voidHold(db.dataSource.manager, h2.id, new Date(era)), 'HOLD_RESOLVED');
    expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '3.00', available: '7.00' });
    await expectBalancedLedger();
  });
});

describe('races on holds', () => {
  it('lets exactly one of postHold and voidHold win, ten times over, with balances matching the winner', async () => {
    const merchant = await account('merchant', { allowNegative: true, shards: 4 });
    const cases = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { wallet } = await setup('10.00');
        const hold = await createHold(holdInput(wallet, merchant, '4.00'));
        return { wallet, hold };
      }),
    );
    const outcomes = await Promise.all(
      cases.map(({ hold }, i) => {
        const post = () => withTransaction(db.dataSource, (m) => ledger.postHold(m, { holdId: hold.id, amount: '3.00', effectiveAt: T0 }));
        const voidIt = () => withTransaction(db.dataSource, (m) => ledger.voidHold(m, hold.id, T0));
        // Alternate which one is sent first.
        return i % 2 ? Promise.allSettled([post(), voidIt()]) : Promise.allSettled([voidIt(), post()]).then(([v, p]) => [p, v]);
      }),
    );

    let postedWins = 0;
    for (const [i, [post, voided]] of outcomes.entries()) {
      const { wallet, hold } = cases[i];
      const after = await ledger.hold(db.dataSource.manager, hold.id);
      expect([post.status, voided.status].sort()).toEqual(['fulfilled', 'rejected']);
      if (post.status === 'fulfilled') {
        postedWins++;
        expect(reasonOf(voided)).toBe('HOLD_RESOLVED');
        expect(after.status).toBe('POSTED');
        expect(after.postedAmount?.toFixed(2)).toBe('3.00');
        expect(await balanceOf(wallet.id)).toEqual({ posted: '7.00', held: '0.00', available: '7.00' });
      } else {
        expect(reasonOf(post)).toBe('HOLD_RESOLVED');
        expect(after.status).toBe('VOIDED');
        expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '0.00', available: '10.00' });
      }
    }
    expect((await balanceOf(merchant.id)).posted).toBe(new Decimal('3.00').times(postedWins).toFixed(2));
    await expectBalancedLedger();
  });

  it('resolves each hold once when postHold races expireHolds', async () => {
    const era = new Date('2002-01-01T00:00:00.000Z').getTime();
    const due = new Date(era + HOUR);
    const merchant = await account('merchant');
    const cases = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const { wallet } = await setup('10.00');
        const hold = await createHold(holdInput(wallet, merchant, '4.00', due));
        return { wallet, hold };
      }),
    );
    const ours = new Set(cases.map((c) => c.hold.id));
    // Posted just before the deadline, expired at it: both are legitimate, only one may happen.
    const [posts, expiries] = await Promise.all([
      Promise.allSettled(
        cases.map(({ hold }) => withTransaction(db.dataSource, (m) => ledger.postHold(m, { holdId: hold.id, effectiveAt: new Date(due.getTime() - 1) }))),
      ),
      Promise.all(Array.from({ length: 3 }, () => withTransaction(db.dataSource, (m) => ledger.expireHolds(m, due)))),
    ]);
    const expiredIds = expiries.flat().map((h) => h.id).filter((id) => ours.has(id));
    // No hold expired twice.
    expect(new Set(expiredIds).size).toBe(expiredIds.length);

    let postedWins = 0;
    for (const [i, { wallet, hold }] of cases.entries()) {
      const after = await ledger.hold(db.dataSource.manager, hold.id);
      if (posts[i].status === 'fulfilled') {
        postedWins++;
        expect(after.status).toBe('POSTED');
        expect(expiredIds).not.toContain(hold.id);
        expect(await balanceOf(wallet.id)).toEqual({ posted: '6.00', held: '0.00', available: '6.00' });
      } else {
        expect(reasonOf(posts[i])).toBe('HOLD_RESOLVED');
        expect(after.status).toBe('EXPIRED');
        expect(expiredIds).toContain(hold.id);
        expect(await balanceOf(wallet.id)).toEqual({ posted: '10.00', held: '0.00', available: '10.00' });
      }
    }
    expect(postedWins + expiredIds.length).toBe(10);
    expect((await balanceOf(merchant.id)).posted).toBe(new Decimal('4.00').times(postedWins).toFixed(2));
    await expectBalancedLedger();
  });

  it('never lets holds and debits racing for one balance take more than it has', async () => {
    const { wallet, merchant } = await setup('10.00');
    const shop = await account('shop');
    const phase1 = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        i % 2
          ? withTransaction(db.dataSource, (m) => ledger.createHold(m, holdInput(wallet, merchant, '1.00')))
          : withTransaction(db.dataSource, (m) =>
              ledger.transfer(m, { idempotencyKey: key('debit'), kind: 'spend', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: '1.00' }),
            ),
      ),
    );
    for (const r of phase1.filter((p) => p.status === 'rejected')) expect(reasonOf(r)).toBe('LIMIT_EXCEEDED');
    const holds = phase1.filter((r, i) => i % 2 && r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Hold>).value);
    const debits = phase1.filter((r, i) => i % 2 === 0 && r.status === 'fulfilled').length;
    expect(holds.length + debits).toBe(10);
    expect(await balanceOf(wallet.id)).toEqual({
      posted: new Decimal(10 - debits).toFixed(2),
      held: new Decimal(holds.length).toFixed(2),
      available: '0.00',
    });

    // Posting half of each hold releases the other half; debits of 0.50 race for what is released.
    const [posts, phase2] = await Promise.all([
      Promise.allSettled(holds.map((h) => withTransaction(db.dataSource, (m) => ledger.postHold(m, { holdId: h.id, amount: '0.50', effectiveAt: T0 })))),
      Promise.allSettled(
        Array.from({ length: 20 }, () =>
          withTransaction(db.dataSource, (m) =>
            ledger.transfer(m, { idempotencyKey: key('debit2'), kind: 'spend', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: '0.50' }),
          ),
        ),
      ),
    ]);
    expect(posts.every((p) => p.status === 'fulfilled')).toBe(true);
    for (const r of phase2.filter((p) => p.status === 'rejected')) expect(reasonOf(r)).toBe('LIMIT_EXCEEDED');
    const late = phase2.filter((r) => r.status === 'fulfilled').length;
    expect(late).toBeLessThanOrEqual(holds.length);
    const final = await ledger.balance(db.dataSource.manager, wallet.id);
    expect(final.held.toFixed(2)).toBe('0.00');
    expect(final.posted.toFixed(2)).toBe(new Decimal(10 - debits).minus(new Decimal('0.50').times(holds.length + late)).toFixed(2));
    expect(final.available.gte(0)).toBe(true);
    await expectBalancedLedger();
  });
});
