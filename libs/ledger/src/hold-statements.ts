import { QueryFailedError } from 'typeorm';
import type { AccountRegistry } from './accounts.js';
import { checkedHold } from './holds.js';
import { LedgerError } from './ledger-errors.js';
import { namedRows, namedSql } from './sql.js';
import type { HoldInput, SqlRunner } from './types.js';

const CREATE_HOLDS = namedSql(
  'create_holds',
  `SELECT n, id::text AS id FROM ledger_create_holds($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::numeric[],
     $7::timestamptz[], $8::text[], $9::boolean[])`,
);

/**
 * `HoldBook.createMany` as one statement (`ledger_create_holds`, migration 1763700000018): the
 * same checks of each hold in TypeScript (accounts, asset, amount at the asset's scale, key,
 * deadline, request hash), then one round trip that locks the debit balances, judges, inserts and
 * adds to `held`; all or nothing. Returns the new holds' ids in the order of `inputs`.
 */
export async function createHoldsInOneStatement(accounts: AccountRegistry, runner: SqlRunner, inputs: HoldInput[]): Promise<string[]> {
  if (!inputs.length) return [];
  const keys = new Set<string>();
  const cols = {
    key: [] as string[], hash: [] as string[], debit: [] as string[], credit: [] as string[], asset: [] as string[],
    amount: [] as string[], expires: [] as string[], meta: [] as string[], noNeg: [] as boolean[],
  };
  await accounts.load(runner, inputs.flatMap((i) => [String(i.debitAccountId), String(i.creditAccountId)]));
  for (const input of inputs) {
    if (keys.has(input.idempotencyKey)) throw new LedgerError('INVALID_TRANSACTION', 'each hold of a batch needs its own idempotencyKey');
    keys.add(input.idempotencyKey);
    // The same checks and hash as HoldBook's, so a hold made here replays through `createHold`.
    const { debit, credit, amount, hash } = await checkedHold(accounts, runner, input);
    cols.key.push(input.idempotencyKey);
    cols.hash.push(hash);
    cols.debit.push(debit.id);
    cols.credit.push(credit.id);
    cols.asset.push(debit.asset);
    cols.amount.push(amount.toFixed());
    cols.expires.push(input.expiresAt.toISOString());
    cols.meta.push(JSON.stringify(input.metadata ?? {}));
    cols.noNeg.push(!debit.allowNegative);
  }
  try {
    const found = await namedRows<{ n: number; id: string }>(runner, CREATE_HOLDS, [
      cols.key, cols.hash, cols.debit, cols.credit, cols.asset, cols.amount, cols.expires, cols.meta, cols.noNeg,
    ]);
    const ids: string[] = new Array(inputs.length);
    for (const r of found) ids[r.n - 1] = r.id;
    return ids;
  } catch (error) {
    const message = error instanceof QueryFailedError ? String((error.driverError as Error | undefined)?.message ?? error.message) : '';
    if (message.includes('ledger: LIMIT_EXCEEDED')) throw new LedgerError('LIMIT_EXCEEDED', message.replace('ledger: LIMIT_EXCEEDED ', ''));
    if (message.includes('ledger: IDEMPOTENCY_CONFLICT')) throw new LedgerError('IDEMPOTENCY_CONFLICT', 'a hold key of the batch was already used');
    throw error;
  }
}
