import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, EntityManager } from 'typeorm';
import { LedgerRetryableError } from './ledger-errors.js';

type Isolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  /**
   * READ COMMITTED by default: guaranteed, and set with its own statement only when the server
   * would not give it anyway (see `withTransaction`). 'SERVER_DEFAULT' takes whatever the server
   * gives (READ COMMITTED unless configured otherwise): for hot paths whose correctness rests
   * on locks, not on the isolation level.
   */
  isolation?: Isolation | 'SERVER_DEFAULT';
  /** Attempts in all, including the first. */
  attempts?: number;
}

/** PostgreSQL serialization failure and deadlock: the transaction can simply be run again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof LedgerRetryableError) return true;
  const code = (error as { code?: string; driverError?: { code?: string } })?.driverError?.code ??
    (error as { code?: string })?.code;
  return code === '40001' || code === '40P01';
}

/**
 * Runs `work` in one database transaction and retries it, with jittered backoff, when
 * PostgreSQL reports a serialization failure or deadlock (40001, 40P01) or the ledger reports a
 * lost race. `work` must therefore be safe to run again: do all writes through the manager.
 *
 * The isolation level is sent with `SET TRANSACTION` only when it differs from what the server
 * gives every new transaction of this DataSource (`default_transaction_isolation`, read once per
 * DataSource): TypeORM sends it as a statement of its own, one more round trip per transaction.
 */
export async function withTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const wanted = options.isolation ?? 'READ COMMITTED';
  const isolation = wanted === 'SERVER_DEFAULT' || (await isServerDefault(dataSource, wanted)) ? undefined : wanted;
  return retrying(options.attempts, () => (isolation ? dataSource.transaction(isolation, work) : dataSource.transaction(work)));
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not retryable, or has run
 * `attempts` times (default 8), with jittered backoff in between.
 */
export async function retrying<T>(attempts: number | undefined, attempt: () => Promise<T>): Promise<T> {
  const limit = attempts ?? 8;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= limit || !isRetryable(error)) throw error;
      await sleep(Math.random() * Math.min(100, 2 ** n * 2));
    }
  }
}

/** The server's default isolation for this DataSource's connections, read once (lower case). */
const serverIsolation = new WeakMap<DataSource, Promise<string>>();

/**
 * True when a plain START TRANSACTION on this DataSource already runs at `isolation`: the
 * DataSource has no `isolationLevel` option of its own (TypeORM would send that one) and the
 * server's `default_transaction_isolation` for its connections (server, database and role
 * settings, and the connection string's options, alike for every connection of the pool) is
 * `isolation`. Nothing in CCX changes that setting on a pooled session.
 */
async function isServerDefault(dataSource: DataSource, isolation: Isolation): Promise<boolean> {
  if ((dataSource.options as { isolationLevel?: string }).isolationLevel) return false;
  let known = serverIsolation.get(dataSource);
  if (!known) {
    known = dataSource
      .query(`SELECT current_setting('default_transaction_isolation') AS level`)
      .then((found: { level: string }[]) => String(found[0]?.level ?? '').toLowerCase());
    serverIsolation.set(dataSource, known);
    // A failed read is not remembered: the next transaction asks again.
    known.catch(() => serverIsolation.delete(dataSource));
  }
  try {
    return (await known) === isolation.toLowerCase();
  } catch {
    return false; // then set it explicitly
  }
}
