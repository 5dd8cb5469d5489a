import { Decimal } from '@ccx/core';
import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { Ledger } from './ledger.js';
import { withTransaction } from './transaction.js';
import type { Account, BatchResult, TransactionInput } from './types.js';

/** `postMany` / `postBatch`: many independent transactions, judged one by one, in order. */

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

async function setup(amount: string): Promise<{ source: Account; wallet: Account; shop: Account }> {
  const source = await account('source', { allowNegative: true });
  const wallet = await account('wallet');
  const shop = await account('shop');
  if (new Decimal(amount).gt(0)) {
    await ledger.transfer(db.dataSource.manager, {
      idempotencyKey: key('fund'),
      kind: 'deposit',
      effectiveAt: T0,
      debitAccountId: source.id,
      creditAccountId: wallet.id,
      amount,
    });
  }
  return { source, wallet, shop };
}

function move(from: Account | string, to: Account | string, amount: string, idempotencyKey = key('item')): TransactionInput {
  return {
    idempotencyKey,
    kind: 'purchase',
    effectiveAt: T0,
    postings: [
      { accountId: typeof from === 'string' ? from : from.id, direction: 'DEBIT', amount },
      { accountId: typeof to === 'string' ? to : to.id, direction: 'CREDIT', amount },
    ],
  };
}

async function posted(id: string): Promise<string> {
  return (await ledger.balance(db.dataSource.manager, id)).posted.toFixed(2);
}

async function counts(): Promise<{ transactions: number; entries: number }> {
  const [r] = await db.dataSource.query(
    `SELECT (SELECT count(*) FROM ledger_transactions)::int AS transactions, (SELECT count(*) FROM ledger_entries)::int AS entries`,
  );
  return r;
}

async function transactionIdOf(idempotencyKey: string): Promise<string | undefined> {
  const [r] = await db.dataSource.query(`SELECT id::text AS id FROM ledger_transactions WHERE idempotency_key = $1`, [idempotencyKey]);
  return r?.id;
}

function idOf(result: BatchResult): string {
  if (result.status === 'rejected') throw new Error(`expected a transaction, got ${result.reason}`);
  return result.transactionId;
}

async function expectBalancedLedger(): Promise<void> {
  const report = await ledger.verify(db.dataSource);
  expect(report.problems).toEqual([]);
  expect(report.balanced).toBe(true);
}

describe('judging in order', () => {
  it('judges each item against the balance the earlier items left (5.00: debit 3, 3, 2)', async () => {
    const { wallet, shop } = await setup('5.00');
    const items = [move(wallet, shop, '3.00'), move(wallet, shop, '3.00'), move(wallet, shop, '2.00')];
    const results = await ledger.postBatch(db.dataSource, items);
    expect(results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted']);
    expect(results[1]).toMatchObject({ status: 'rejected', reason: 'LIMIT_EXCEEDED' });
    expect((results[1] as { message: string }).message).toMatch(/cannot cover/);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('5.00');
    expect(await transactionIdOf(items[0].idempotencyKey)).toBe(idOf(results[0]));
    expect(await transactionIdOf(items[1].idempotencyKey)).toBeUndefined();
    expect(await transactionIdOf(items[2].idempotencyKey)).toBe(idOf(results[2]));
    await expectBalancedLedger();
  });

  it('lets a credit earlier in the batch pay for a debit later in it, and not before', async () => {
    const { source, wallet, shop } = await setup('0');
    const results = await ledger.postBatch(db.dataSource, [
      move(wallet, shop, '1.00'),
      move(source, wallet, '2.00'),
      move(wallet, shop, '2.00'),
      move(wallet, shop, '0.01'),
      move(shop, wallet, '0.50'),
      move(wallet, shop, '0.50'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'accepted', 'accepted', 'rejected', 'accepted', 'accepted']);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('2.00');
    // The balance after each entry replays the order the batch was judged in.
    const { entries } = await ledger.entries(db.dataSource.manager, wallet.id);
    expect(entries.map((e) => e.balanceAfter.toFixed(2))).toEqual(['2.00', '0.00', '0.50', '0.00']);
  });

  it('judges "may not go positive" in order too', async () => {
    const capped = await account('capped', { allowNegative: true, allowPositive: false });
    const other = await account('other', { allowNegative: true });
    const results = await ledger.postBatch(db.dataSource, [move(other, capped, '1.00'), move(capped, other, '3.00'), move(other, capped, '2.00'), move(other, capped, '1.01')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'accepted', 'accepted', 'rejected']);
    expect(results[3]).toMatchObject({ reason: 'LIMIT_EXCEEDED' });
    expect(await posted(capped.id)).toBe('-1.00');
  });

  it('gives the second of two items with one key and content the outcome of the first, also when the first was refused', async () => {
    const { wallet, shop } = await setup('1.00');
    const tooMuch = move(wallet, shop, '2.00');
    const fine = move(wallet, shop, '1.00');
    const before = await counts();
    const results = await ledger.postBatch(db.dataSource, [tooMuch, { ...tooMuch }, fine, { ...fine }]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: 'LIMIT_EXCEEDED' });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: 'LIMIT_EXCEEDED' });
    expect(results[2].status).toBe('accepted');
    expect(results[3]).toEqual({ status: 'duplicate', transactionId: idOf(results[2]) });
    expect(await counts()).toEqual({ transactions: before.transactions + 1, entries: before.entries + 2 });
    expect(await posted(wallet.id)).toBe('0.00');
  });

  it('aggregates many items on a sharded account into a correct sum', async () => {
    const { source } = await setup('0');
    const hot = await account('hot', { allowNegative: true, shards: 8 });
    const results = await ledger.postBatch(
      db.dataSource,
      Array.from({ length: 40 }, (_, i) => (i % 4 === 3 ? move(hot, source, '0.10') : move(source, hot, '0.25'))),
    );
    expect(results.every((r) => r.status === 'accepted')).toBe(true);
    expect(await posted(hot.id)).toBe('6.50');
    await expectBalancedLedger();
  });
});

describe('a batch of good and bad items', () => {
  it('answers every item in request order and writes only the valid ones', async () => {
    const { wallet, shop, source } = await setup('10.00');
    const used = move(wallet, shop, '1.00');
    const original = await ledger.post(db.dataSource.manager, used);
    const before = await counts();
    const inBatch = key('twice');

    const items: TransactionInput[] = [
      /* 0 */ move(wallet, shop, '2.00'),
      /* 1 */ move(wallet, shop, '1.001'),
      /* 2 */ move(wallet, '999999999', '1.00'),
      /* 3 */ {
        ...move(wallet, shop, '1.00'),
        postings: [
          { accountId: wallet.id, direction: 'DEBIT', amount: '1.00' },
          { accountId: shop.id, direction: 'CREDIT', amount: '0.99' },
        ],
      },
      /* 4 */ { ...used },
      /* 5 */ move(wallet, shop, '3.00', inBatch),
      /* 6 */ move(wallet, shop, '3.00', inBatch),
      /* 7 */ move(wallet, shop, '1.50', used.idempotencyKey),
      /* 8 */ move(wallet, shop, '0.50', inBatch),
      /* 9 */ move(wallet, shop, '0'),
      /* 10 */ move(wallet, shop, '4.01'),
      /* 11 */ { ...move(wallet, shop, '1.00'), postings: [{ accountId: wallet.id, direction: 'DEBIT', amount: '1.00' }] },
      /* 12 */ move(source, wallet, '0.50'),
      /* 13 */ move(wallet, shop, '4.50'),
    ];
    const results = await ledger.postBatch(db.dataSource, items);

    expect(results).toHaveLength(items.length);
    expect(results.map((r) => (r.status === 'rejected' ? r.reason : r.status))).toEqual([
      'accepted',
      'INVALID_AMOUNT',
      'ACCOUNT_NOT_FOUND',
      'UNBALANCED',
      'duplicate',
      'accepted',
      'duplicate',
      'IDEMPOTENCY_CONFLICT',
      'IDEMPOTENCY_CONFLICT',
      'INVALID_AMOUNT',
      'LIMIT_EXCEEDED',
      'INVALID_TRANSACTION',
      'accepted',
      'accepted',
    ]);
    for (const r of results) if (r.status === 'rejected') expect(r.message.length).toBeGreaterThan(0);
    expect(results[4]).toEqual({ status: 'duplicate', transactionId: original.id });
    expect(results[6]).toEqual({ status: 'duplicate', transactionId: idOf(results[5]) });

    // Only items 0, 5, 12 and 13 were written, each once, under its own key.
    expect(await counts()).toEqual({ transactions: before.transactions + 4, entries: before.entries + 8 });
    for (const i of [0, 5, 12, 13]) expect(await transactionIdOf(items[i].idempotencyKey)).toBe(idOf(results[i]));
    for (const i of [1, 2, 3, 9, 10, 11]) expect(await transactionIdOf(items[i].idempotencyKey)).toBeUndefined();
    expect(await transactionIdOf(used.idempotencyKey)).toBe(original.id);
    // 10 − 1 (before) − 2 − 3 + 0.50 − 4.50
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('10.50');
    await expectBalancedLedger();
  });

  it('refuses an item that uses a key twice in a batch with other content, after the first was accepted', async () => {
    const { wallet, shop } = await setup('10.00');
    const k = key('same');
    const results = await ledger.postBatch(db.dataSource, [move(wallet, shop, '1.00', k), move(shop, wallet, '1.00', k), move(wallet, shop, '1.00', k)]);
    expect(results[0].status).toBe('accepted');
    expect(results[1]).toMatchObject({ status: 'rejected', reason: 'IDEMPOTENCY_CONFLICT' });
    expect(results[2]).toEqual({ status: 'duplicate', transactionId: idOf(results[0]) });
    expect(await posted(wallet.id)).toBe('9.00');
    expect(await posted(shop.id)).toBe('1.00');
  });

  it('judges every repeat of a stored key against the stored content, not against the batch\'s first item', async () => {
    const { wallet, shop } = await setup('10.00');
    const k = key('stored');
    const [stored] = await ledger.postBatch(db.dataSource, [move(wallet, shop, '1.00', k)]);
    const before = await counts();
    const results = await ledger.postBatch(db.dataSource, [move(shop, wallet, '1.00', k), move(wallet, shop, '1.00', k), move(wallet, shop, '2.00', k)]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: 'IDEMPOTENCY_CONFLICT' });
    expect(results[1]).toEqual({ status: 'duplicate', transactionId: idOf(stored) });
    expect(results[2]).toMatchObject({ status: 'rejected', reason: 'IDEMPOTENCY_CONFLICT' });
    expect(await counts()).toEqual(before);
    expect(await posted(wallet.id)).toBe('9.00');
  });

  it('writes nothing when every item is refused', async () => {
    const { wallet, shop } = await setup('1.00');
    const before = await counts();
    const results = await ledger.postBatch(db.dataSource, [move(wallet, shop, '1.01'), move(wallet, shop, '-1.00'), move(shop, wallet, '0.01')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await counts()).toEqual(before);
    expect(await posted(wallet.id)).toBe('1.00');
  });
});

describe('reading a batch back', () => {
  it('pages an account\'s entries in the order the batch was judged, across ids of different lengths', async () => {
    // Entry ids jump to just below the next power of ten, so this account's ids cross from n to
    // n+1 digits: the statement must follow the numbers, not their text.
    const [{ max }] = await db.dataSource.query(`SELECT coalesce(max(id), 0)::bigint::text AS max FROM ledger_entries`);
    const next = 10n ** BigInt(String(BigInt(max) + 10n).length);
    await db.dataSource.query(`ALTER TABLE ledger_entries ALTER COLUMN id RESTART WITH ${next - 4n}`);
    const { source, wallet, shop } = await setup('0');
    const results = await ledger.postBatch(db.dataSource, [
      move(source, wallet, '5.00'),
      move(wallet, shop, '1.00'),
      move(wallet, shop, '1.00'),
      move(source, wallet, '3.00'),
      move(wallet, shop, '2.00'),
      move(wallet, shop, '4.00'),
    ]);
    expect(results.every((r) => r.status === 'accepted')).toBe(true);

    const seen: { id: string; amount: string; before: string; after: string }[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const found = await ledger.entries(db.dataSource.manager, wallet.id, { first: 2, after });
      seen.push(...found.entries.map((e) => ({ id: e.id, amount: e.amount.toFixed(2), before: e.balanceBefore.toFixed(2), after: e.balanceAfter.toFixed(2) })));
      after = found.endCursor;
      if (!found.hasNextPage) break;
    }
    expect(seen.map((e) => e.amount)).toEqual(['5.00', '-1.00', '-1.00', '3.00', '-2.00', '-4.00']);
    expect(seen.map((e) => e.after)).toEqual(['5.00', '4.00', '3.00', '6.00', '4.00', '0.00']);
    expect(seen.map((e) => e.before)).toEqual(['0.00', '5.00', '4.00', '3.00', '6.00', '4.00']);
    const ids = seen.map((e) => BigInt(e.id));
    expect(ids.some((id) => id < next) && ids.some((id) => id >= next)).toBe(true);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).toBe(true);
    expect(await posted(wallet.id)).toBe('0.00');
    expect(await posted(shop.id)).toBe('8.00');
  });
});

describe('empty batches and the caller\'s transaction', () => {
  it('returns [] for an empty batch and writes nothing', async () => {
    await setup('1.00');
    const before = await counts();
    expect(await ledger.postBatch(db.dataSource, [])).toEqual([]);
    expect(await withTransaction(db.dataSource, (m) => ledger.postMany(m, []))).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it('postMany commits or rolls back with the caller\'s transaction', async () => {
    const { wallet, shop } = await setup('5.00');
    const before = await counts();
    const items = [move(wallet, shop, '1.00'), move(wallet, shop, '2.00')];
    await expect(
      db.dataSource.transaction(async (m) => {
        const results = await ledger.postMany(m, items);
        expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
        expect((await ledger.balance(m, wallet.id)).posted.toFixed(2)).toBe('2.00');
        throw new Error('domain failure after posting');
      }),
    ).rejects.toThrow('domain failure');
    expect(await counts()).toEqual(before);
    expect(await posted(wallet.id)).toBe('5.00');

    // Nothing of the rolled-back batch remains: the same keys post afresh.
    const again = await withTransaction(db.dataSource, (m) => ledger.postMany(m, items));
    expect(again.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(await posted(wallet.id)).toBe('2.00');
  });
});
