import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource, EntityManager } from 'typeorm';
import { LedgerRetryableError } from './ledger-errors.js';

type Isolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

export interface TransactionOptions {
  /**
   * READ COMMITTED by default, set explicitly. 'SERVER_DEFAULT' leaves the server's default
   * (READ COMMITTED unless configured otherwise) and saves the SET TRANSACTION round trip: for
   * hot paths whose correctness rests on locks, not on the isolation level.
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
 */
export async function withTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await (options.isolation === 'SERVER_DEFAULT'
        ? dataSource.transaction(work)
        : dataSource.transaction(options.isolation ?? 'READ COMMITTED', work));
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await sleep(Math.random() * Math.min(100, 2 ** attempt * 2));
    }
  }
}
