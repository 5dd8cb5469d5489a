import { Ledger } from '../src/ledger.js';
import type { Account } from '../src/types.js';
import type { LedgerTestDatabase } from './ledger-test-db.js';

export const T0 = new Date('2026-01-05T12:00:00.000Z');
export const LATER = new Date(T0.getTime() + 3_600_000);

/**
 * The holds specs' world: a wallet funded with `amount` (no overdraft) and a sink to hold
 * towards, on the spec's own test database; `next()` numbers keys so none repeats.
 */
export function holdFixtures(ledger: Ledger, db: () => LedgerTestDatabase) {
  let seq = 0;
  const next = () => ++seq;
  async function funded(amount: string): Promise<{ wallet: Account; sink: Account }> {
    const m = db().dataSource.manager;
    const source = await ledger.createAccount(m, { code: `src-${next()}`, asset: 'USD', allowNegative: true, allowPositive: true });
    const wallet = await ledger.createAccount(m, { code: `wallet-${next()}`, asset: 'USD', allowNegative: false, allowPositive: true });
    const sink = await ledger.createAccount(m, { code: `sink-${next()}`, asset: 'USD', allowNegative: false, allowPositive: true });
    await ledger.transfer(m, { idempotencyKey: `fund-${next()}`, kind: 'deposit', effectiveAt: T0, debitAccountId: source.id, creditAccountId: wallet.id, amount });
    return { wallet, sink };
  }
  return { funded, next };
}
