import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { holdFixtures, LATER, T0 } from '../test/hold-fixtures.js';
import { Ledger } from './ledger.js';
import { LedgerError } from './ledger-errors.js';
import { withTransaction } from './transaction.js';
import type { Account } from './types.js';

/** Many holds at once (the gateway's group commit): all or nothing, limits judged per account. */

let db: LedgerTestDatabase;
const ledger = new Ledger();
const { funded, next } = holdFixtures(ledger, () => db);

beforeAll(async () => {
  db = await createLedgerTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const hold = (wallet: Account, sink: Account, amount: string) => ({ idempotencyKey: `h-${next()}`, debitAccountId: wallet.id, creditAccountId: sink.id, amount, expiresAt: LATER });

describe('createHolds / voidHolds', () => {
  it('creates every hold and raises held by their sum', async () => {
    const { wallet, sink } = await funded('10.00');
    const holds = await withTransaction(db.dataSource, (m) => ledger.createHolds(m, [hold(wallet, sink, '3.00'), hold(wallet, sink, '4.00')]));
    expect(holds.map((h) => [h.status, h.amount.toFixed(2)])).toEqual([['PENDING', '3.00'], ['PENDING', '4.00']]);
    const b = await ledger.balance(db.dataSource.manager, wallet.id);
    expect([b.posted.toFixed(2), b.held.toFixed(2), b.available.toFixed(2)]).toEqual(['10.00', '7.00', '3.00']);
  });

  it('refuses the whole batch when the sum exceeds what is available, and creates nothing', async () => {
    const { wallet, sink } = await funded('10.00');
    await expect(withTransaction(db.dataSource, (m) => ledger.createHolds(m, [hold(wallet, sink, '6.00'), hold(wallet, sink, '5.00')]))).rejects.toMatchObject({
      reason: 'LIMIT_EXCEEDED',
    });
    const b = await ledger.balance(db.dataSource.manager, wallet.id);
    expect(b.held.toFixed(2)).toBe('0.00');
    const [n] = await db.dataSource.query(`SELECT count(*)::int AS n FROM ledger_holds WHERE debit_account_id = $1`, [wallet.id]);
    expect(n.n).toBe(0);
  });

  it('refuses a key already used or repeated in the batch', async () => {
    const { wallet, sink } = await funded('10.00');
    const h = hold(wallet, sink, '1.00');
    await expect(withTransaction(db.dataSource, (m) => ledger.createHolds(m, [h, h]))).rejects.toBeInstanceOf(LedgerError);
    await withTransaction(db.dataSource, (m) => ledger.createHolds(m, [h]));
    await expect(withTransaction(db.dataSource, (m) => ledger.createHolds(m, [h]))).rejects.toMatchObject({ reason: 'IDEMPOTENCY_CONFLICT' });
  });

  it('voidHolds releases the pending ones only', async () => {
    const { wallet, sink } = await funded('10.00');
    const [a, b] = await withTransaction(db.dataSource, (m) => ledger.createHolds(m, [hold(wallet, sink, '2.00'), hold(wallet, sink, '3.00')]));
    await withTransaction(db.dataSource, (m) => ledger.postHold(m, { holdId: b.id, amount: '1.00', effectiveAt: T0 }));
    const released = await withTransaction(db.dataSource, (m) => ledger.voidHolds(m, [a.id, b.id], T0));
    expect(released.map((h) => h.id)).toEqual([a.id]);
    const bal = await ledger.balance(db.dataSource.manager, wallet.id);
    expect([bal.posted.toFixed(2), bal.held.toFixed(2)]).toEqual(['9.00', '0.00']);
  });
});
