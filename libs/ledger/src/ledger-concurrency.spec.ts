import { Decimal } from '@ccx/core';
import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { Ledger } from './ledger.js';
import { LedgerError } from './ledger-errors.js';
import { withTransaction } from './transaction.js';
import type { Account, BatchResult, PostedTransaction, TransferInput } from './types.js';

/**
 * Races on the real PostgreSQL: every writer runs in its own `withTransaction`, so these tests
 * exercise the row locks, the idempotency-key races and the retry on deadlock for real.
 */

const T0 = new Date('2026-01-05T12:00:00.000Z');
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

async function account(code: string, opts: Partial<{ allowNegative: boolean; allowPositive: boolean; shards: number }> = {}): Promise<Account> {
  return ledger.createAccount(db.dataSource.manager, {
    code: `${code}-${++seq}`,
    asset: 'USD',
    allowNegative: opts.allowNegative ?? false,
    allowPositive: opts.allowPositive ?? true,
    shards: opts.shards,
  });
}

/** A source that may go negative (the outside world), and a funded wallet. */
async function fundedWallet(amount: string): Promise<{ source: Account; wallet: Account }> {
  const source = await account('source', { allowNegative: true });
  const wallet = await account('wallet');
  await fund(source, wallet, amount);
  return { source, wallet };
}

async function fund(source: Account, wallet: Account, amount: string): Promise<void> {
  await ledger.transfer(db.dataSource.manager, {
    idempotencyKey: key('fund'),
    kind: 'deposit',
    effectiveAt: T0,
    debitAccountId: source.id,
    creditAccountId: wallet.id,
    amount,
  });
}

async function posted(id: string): Promise<string> {
  return (await ledger.balance(db.dataSource.manager, id)).posted.toFixed(2);
}

/** Each call in its own database transaction, all started at once; outcomes in call order. */
function race<T>(count: number, work: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: count }, (_, i) => work(i)));
}

function transferTx(input: TransferInput): Promise<PostedTransaction> {
  return withTransaction(db.dataSource, (m) => ledger.transfer(m, input));
}

function ledgerErrorOf(result: PromiseSettledResult<unknown>): LedgerError {
  if (result.status !== 'rejected') throw new Error('expected a rejection, got a result');
  if (!(result.reason instanceof LedgerError)) throw result.reason;
  return result.reason;
}

async function transactionCount(idempotencyKey: string): Promise<number> {
  const [{ n }] = await db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_transactions WHERE idempotency_key = $1`, [
    idempotencyKey,
  ]);
  return n;
}

async function expectBalancedLedger(): Promise<void> {
  const report = await ledger.verify(db.dataSource);
  expect(report.problems).toEqual([]);
  expect(report.balanced).toBe(true);
}

describe('concurrent debits racing for one balance', () => {
  it('lets exactly as many 1.00 debits through as the balance covers (50 racing for 10.00)', async () => {
    const { wallet } = await fundedWallet('10.00');
    const shop = await account('shop');
    const results = await race(50, () =>
      transferTx({ idempotencyKey: key('buy'), kind: 'purchase', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: '1.00' }),
    );

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(10);
    expect(lost).toHaveLength(40);
    for (const r of lost) {
      const error = ledgerErrorOf(r);
      expect(error.reason).toBe('LIMIT_EXCEEDED');
    }
    expect(new Set(won.map((r) => (r as PromiseFulfilledResult<PostedTransaction>).value.id)).size).toBe(10);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('10.00');
    const [{ n }] = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM ledger_entries WHERE account_id = $1 AND amount < 0`,
      [wallet.id],
    );
    expect(n).toBe(10);
    await expectBalancedLedger();
  });

  it('never overdraws when debits of different sizes race, and refuses only what the balance could not cover', async () => {
    const { wallet } = await fundedWallet('7.00');
    const shop = await account('shop', { allowNegative: true, shards: 4 });
    const amounts = Array.from({ length: 30 }, (_, i) => ['0.50', '1.25', '2.00'][i % 3]);
    const results = await race(amounts.length, (i) =>
      transferTx({ idempotencyKey: key('mixed'), kind: 'purchase', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: amounts[i] }),
    );
    let spent = new Decimal(0);
    const refused: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') spent = spent.plus(amounts[i]);
      else {
        expect(ledgerErrorOf(r).reason).toBe('LIMIT_EXCEEDED');
        refused.push(amounts[i]);
      }
    });
    const balance = await ledger.balance(db.dataSource.manager, wallet.id);
    expect(balance.posted.toFixed(2)).toBe(new Decimal('7.00').minus(spent).toFixed(2));
    expect(balance.posted.gte(0)).toBe(true);
    expect(refused.length).toBeGreaterThan(0);
    // The balance only went down, so each refused debit is more than what is finally left.
    for (const amount of refused) expect(balance.posted.lt(amount)).toBe(true);
    expect(await posted(shop.id)).toBe(spent.toFixed(2));
    await expectBalancedLedger();
  });
});

describe('concurrent replays of one idempotency key', () => {
  it('writes one transaction for 20 concurrent replays of the same content, even one that drains the balance', async () => {
    const { wallet } = await fundedWallet('5.00');
    const shop = await account('shop');
    const input = { idempotencyKey: key('replay'), kind: 'purchase', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: '5.00' };
    const results = await race(20, () => transferTx(input));

    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const txs = results.map((r) => (r as PromiseFulfilledResult<PostedTransaction>).value);
    expect(new Set(txs.map((t) => t.id)).size).toBe(1);
    expect(txs.filter((t) => !t.replayed)).toHaveLength(1);
    expect(txs.filter((t) => t.replayed)).toHaveLength(19);
    expect(await transactionCount(input.idempotencyKey)).toBe(1);
    const [{ id }] = await db.dataSource.query(`SELECT id::text AS id FROM ledger_transactions WHERE idempotency_key = $1`, [input.idempotencyKey]);
    expect(txs[0].id).toBe(id);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('5.00');
    await expectBalancedLedger();
  });

  it('moves money once when replays of a small amount race (balance to spare)', async () => {
    const { wallet } = await fundedWallet('10.00');
    const shop = await account('shop', { allowNegative: true, shards: 8 });
    const input = { idempotencyKey: key('replay-small'), kind: 'purchase', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: '1.00' };
    const results = await race(20, () => transferTx(input));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const ids = new Set(results.map((r) => (r as PromiseFulfilledResult<PostedTransaction>).value.id));
    expect(ids.size).toBe(1);
    expect(await transactionCount(input.idempotencyKey)).toBe(1);
    expect(await posted(wallet.id)).toBe('9.00');
    expect(await posted(shop.id)).toBe('1.00');
    await expectBalancedLedger();
  });

  it('lets one content win a key and answers every other content IDEMPOTENCY_CONFLICT', async () => {
    const { wallet } = await fundedWallet('4.00');
    const shop = await account('shop');
    const idempotencyKey = key('contested');
    // Two contents for one key, interleaved; either may win. The balance covers only one of them.
    const amounts = Array.from({ length: 20 }, (_, i) => (i % 2 ? '3.00' : '4.00'));
    const results = await race(amounts.length, (i) =>
      transferTx({ idempotencyKey, kind: 'purchase', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: amounts[i] }),
    );

    expect(await transactionCount(idempotencyKey)).toBe(1);
    const [{ id, amount }] = await db.dataSource.query(
      `SELECT t.id::text AS id, e.amount::text AS amount FROM ledger_transactions t
       JOIN ledger_entries e ON e.transaction_id = t.id AND e.amount > 0 WHERE t.idempotency_key = $1`,
      [idempotencyKey],
    );
    const winner = new Decimal(amount).toFixed(2);
    expect(['3.00', '4.00']).toContain(winner);
    results.forEach((r, i) => {
      if (amounts[i] === winner) {
        expect(r.status).toBe('fulfilled');
        expect((r as PromiseFulfilledResult<PostedTransaction>).value.id).toBe(id);
      } else {
        const error = ledgerErrorOf(r);
        expect(error.reason).toBe('IDEMPOTENCY_CONFLICT');
      }
    });
    const fulfilled = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<PostedTransaction>[];
    expect(fulfilled).toHaveLength(10);
    expect(fulfilled.filter((r) => !r.value.replayed)).toHaveLength(1);
    expect(await posted(wallet.id)).toBe(new Decimal('4.00').minus(winner).toFixed(2));
    expect(await posted(shop.id)).toBe(winner);
    await expectBalancedLedger();
  });
});

describe('opposite directions between the same accounts', () => {
  it('completes many transfers A→B and B→A at once with exact final balances', async () => {
    const source = await account('source', { allowNegative: true });
    const a = await account('a');
    const b = await account('b');
    await fund(source, a, '50.00');
    await fund(source, b, '50.00');
    const results = await race(60, (i) =>
      i % 3 === 2
        ? // A multi-leg transaction listing B before A: the lock order must not follow the postings.
          withTransaction(db.dataSource, (m) =>
            ledger.post(m, {
              idempotencyKey: key('swap'),
              kind: 'swap',
              effectiveAt: T0,
              postings: [
                { accountId: b.id, direction: 'DEBIT', amount: '0.30' },
                { accountId: a.id, direction: 'CREDIT', amount: '0.30' },
                { accountId: a.id, direction: 'DEBIT', amount: '0.10' },
                { accountId: b.id, direction: 'CREDIT', amount: '0.10' },
              ],
            }),
          )
        : transferTx({
            idempotencyKey: key('pingpong'),
            kind: 'transfer',
            effectiveAt: T0,
            debitAccountId: i % 3 === 0 ? a.id : b.id,
            creditAccountId: i % 3 === 0 ? b.id : a.id,
            amount: i % 3 === 0 ? '1.00' : '0.80',
          }),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    // A: −20 × 1.00 (A→B) + 20 × 0.80 (B→A) + 20 × 0.20 (swaps, net B→A) = 0
    expect(await posted(a.id)).toBe('50.00');
    expect(await posted(b.id)).toBe('50.00');
    const [{ n }] = await db.dataSource.query(
      `SELECT count(DISTINCT transaction_id)::int AS n FROM ledger_entries WHERE account_id = $1`,
      [a.id],
    );
    expect(n).toBe(61);
    await expectBalancedLedger();
  });

  it('retries the victim when callers take locks in opposite orders across two postings (a real deadlock)', async () => {
    const source = await account('source', { allowNegative: true });
    const a = await account('a');
    const b = await account('b');
    const sinkA = await account('sink');
    const sinkB = await account('sink');
    await fund(source, a, '10.00');
    await fund(source, b, '10.00');

    // Both callers post their first transfer, then wait for each other before the second, so the
    // first attempt deadlocks for certain (A then B against B then A); withTransaction retries.
    let arrived = 0;
    let release!: () => void;
    const bothLocked = new Promise<void>((resolve) => (release = resolve));
    let attempts = 0;
    const caller = (first: Account, second: Account, sink: Account) =>
      withTransaction(db.dataSource, async (m) => {
        attempts++;
        await ledger.transfer(m, { idempotencyKey: `${sink.id}-1`, kind: 't', effectiveAt: T0, debitAccountId: first.id, creditAccountId: sink.id, amount: '1.00' });
        if (++arrived === 2) release();
        await bothLocked;
        await ledger.transfer(m, { idempotencyKey: `${sink.id}-2`, kind: 't', effectiveAt: T0, debitAccountId: second.id, creditAccountId: sink.id, amount: '2.00' });
      });
    const results = await Promise.allSettled([caller(a, b, sinkA), caller(b, a, sinkB)]);

    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(await posted(a.id)).toBe('7.00');
    expect(await posted(b.id)).toBe('7.00');
    expect(await posted(sinkA.id)).toBe('3.00');
    expect(await posted(sinkB.id)).toBe('3.00');
    await expectBalancedLedger();
  });
});

describe('concurrent batches', () => {
  it('accepts exactly 25 of 100 debits of 1.00 spread over 10 concurrent batches on a 25.00 wallet', async () => {
    const { wallet } = await fundedWallet('25.00');
    const shop = await account('shop', { allowNegative: true, shards: 4 });
    const batches = await Promise.all(
      Array.from({ length: 10 }, () =>
        ledger.postBatch(
          db.dataSource,
          Array.from({ length: 10 }, () => ({
            idempotencyKey: key('batch-debit'),
            kind: 'purchase',
            effectiveAt: T0,
            postings: [
              { accountId: wallet.id, direction: 'DEBIT' as const, amount: '1.00' },
              { accountId: shop.id, direction: 'CREDIT' as const, amount: '1.00' },
            ],
          })),
        ),
      ),
    );

    const all: BatchResult[] = batches.flat();
    expect(all).toHaveLength(100);
    const accepted = all.filter((r) => r.status === 'accepted');
    const rejected = all.filter((r) => r.status === 'rejected');
    expect(accepted).toHaveLength(25);
    expect(rejected).toHaveLength(75);
    for (const r of rejected) {
      expect(r).toMatchObject({ status: 'rejected', reason: 'LIMIT_EXCEEDED' });
    }
    // Items are judged in order against what the earlier ones left: within a batch, once one
    // debit of 1.00 is refused every later one is too.
    for (const batch of batches) {
      const firstRejected = batch.findIndex((r) => r.status === 'rejected');
      if (firstRejected >= 0) expect(batch.slice(firstRejected).every((r) => r.status === 'rejected')).toBe(true);
    }
    expect(new Set(accepted.map((r) => (r as { transactionId: string }).transactionId)).size).toBe(25);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('25.00');
    await expectBalancedLedger();
  });

  it('keeps batches and single transfers racing on one wallet within its balance', async () => {
    const { wallet } = await fundedWallet('12.00');
    const shop = await account('shop');
    const item = () => ({
      idempotencyKey: key('mix-batch'),
      kind: 'purchase',
      effectiveAt: T0,
      postings: [
        { accountId: wallet.id, direction: 'DEBIT' as const, amount: '1.00' },
        { accountId: shop.id, direction: 'CREDIT' as const, amount: '1.00' },
      ],
    });
    const [batchResults, singles] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => ledger.postBatch(db.dataSource, [item(), item(), item(), item()]))),
      race(16, () => transferTx({ idempotencyKey: key('mix-single'), kind: 'purchase', effectiveAt: T0, debitAccountId: wallet.id, creditAccountId: shop.id, amount: '1.00' })),
    ]);
    const acceptedInBatches = batchResults.flat().filter((r) => r.status === 'accepted').length;
    const acceptedSingles = singles.filter((r) => r.status === 'fulfilled').length;
    for (const r of singles.filter((s) => s.status === 'rejected')) expect(ledgerErrorOf(r).reason).toBe('LIMIT_EXCEEDED');
    expect(acceptedInBatches + acceptedSingles).toBe(12);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('12.00');
    await expectBalancedLedger();
  });
});
