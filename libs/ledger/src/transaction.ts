import { setTimeout as sleep } from 'node:timers/promises';
import { QueryFailedError, type DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { LedgerRetryableError } from './ledger-errors.js';
import { boundPostgresRunner, namedRows, type NamedSql } from './sql.js';
import type { SqlRunner } from './types.js';

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
  return retrying(options.attempts, () => pipelinedTransaction(dataSource, isolation, work));
}

/** TypeORM's transaction state on a postgres query runner (PostgresQueryRunner, TypeORM 1.x). */
interface RunnerState {
  isTransactionActive: boolean;
  transactionDepth?: unknown;
}

/**
 * One database transaction whose `START TRANSACTION` does not cost a round trip of its own: it
 * is handed to the connection's `pg` client without waiting for its answer, so with the pool's
 * pipeline mode (`extra.pipeline`, data-source.ts) it travels with the work's first statement.
 * The server runs them in order, so that statement and all after it run inside the transaction.
 * Its answer is awaited before the commit. TypeORM's runner is told a transaction is open (its
 * own `startTransaction` would wait for the answer), so the work's TypeORM calls behave as in
 * `dataSource.transaction`: nested transactions become savepoints, no save opens another.
 * Commits like TypeORM, unless the work committed with its last statements (`commitWith`).
 * A runner of another shape (another driver, another TypeORM) takes TypeORM's own path.
 */
async function pipelinedTransaction<T>(dataSource: DataSource, isolation: Isolation | undefined, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  const runner = dataSource.createQueryRunner();
  const state = runner as unknown as RunnerState;
  if (runner.connection.options.type !== 'postgres' || state.transactionDepth !== 0 || runner.isTransactionActive) {
    await runner.release();
    return isolation ? dataSource.transaction(isolation, work) : dataSource.transaction(work);
  }
  try {
    const client = (await runner.connect()) as { query(text: string): Promise<unknown> };
    const sql = isolation ? `START TRANSACTION ISOLATION LEVEL ${isolation}` : 'START TRANSACTION';
    runner.connection.logger.logQuery(sql, [], runner);
    let refused: QueryFailedError | null = null;
    const started = client.query(sql).then(
      () => undefined,
      (error: Error) => {
        runner.connection.logger.logQueryError(error, sql, [], runner);
        refused = new QueryFailedError(sql, [], error);
        throw refused;
      },
    );
    started.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    // If START TRANSACTION failed, nothing more may run on this connection for this work: it
    // would run outside any transaction. Its answer comes before the first statement's, so every
    // statement the work sends after that one is refused here, TypeORM's and the flights' alike.
    // (The first statement, sent with START, is the one exposed, docs/LEDGER.md.) Restored
    // before the connection goes back.
    const send = client.query;
    (client as { query: (...args: unknown[]) => Promise<unknown> }).query = function (this: unknown, ...args: unknown[]) {
      return refused ? Promise.reject(refused) : (send as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    };
    pipelines.set(runner, { client, started });
    state.isTransactionActive = true;
    state.transactionDepth = 1;
    try {
      const result = await work(runner.manager);
      await started;
      if (runner.isTransactionActive) await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) {
        try {
          await runner.rollbackTransaction();
        } catch {
          // the connection is gone: its transaction went with it
        }
      }
      throw error;
    }
  } finally {
    const pipeline = pipelines.get(runner);
    // The guard was an own property over pg's method: removing it restores the method.
    if (pipeline) delete (pipeline.client as { query?: unknown }).query;
    pipelines.delete(runner);
    // A connection still in a transaction (a ROLLBACK that failed on a live connection) must not
    // go back to the pool: the next work's START would only warn and join it. Closed instead.
    const status = (pipeline?.client as { getTransactionStatus?: () => string | null } | undefined)?.getTransactionStatus?.();
    const close = (runner as unknown as { releasePostgresConnection?: (error: Error) => Promise<void> }).releasePostgresConnection;
    // So must one where the client refused a statement of a flight: pg closes a named statement
    // whose parameters it could not bind, and its cache of prepared names is wrong afterwards.
    if (((status && status !== 'I') || discarded.has(runner)) && close) await close.call(runner, new Error(`connection not reusable (transaction state ${status})`));
    else await runner.release();
  }
}

/** Runners whose connection must be closed rather than pooled again (see the `finally` above). */
const discarded = new WeakSet<QueryRunner>();

/**
 * Each pipelined transaction's pg client (its `query` guarded meanwhile) and its START's answer.
 * Only these transactions may be committed early by `commitWith`, which then leaves nothing for
 * the owner to commit.
 */
const pipelines = new WeakMap<QueryRunner, { client: object; started: Promise<void> }>();

/**
 * Before a flight in a pipelined transaction: its connection's last answer must say that a
 * transaction is open ('T': pg's ReadyForQuery status; 'I' would mean that no START took effect,
 * 'E' an aborted one). The flight's statements would otherwise run, and commit, one by one.
 */
function assertInTransaction(client: { getTransactionStatus?: () => string | null }): void {
  const status = client.getTransactionStatus?.();
  if (status !== undefined && status !== 'T') throw new Error(`no transaction is open on this connection (status ${status}): nothing was sent`);
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

/** A statement and its parameters, for `commitWith`. */
export interface Statement {
  sql: NamedSql;
  params: unknown[];
}

/**
 * Statements sent in one flight on the transaction's connection (one round trip with the pool's
 * pipeline mode), answered with each statement's rows. The server runs them in order; if one
 * fails, the transaction is aborted (the ones after it fail too) and that statement's error is
 * thrown. Without a connection of its own (`dataSource.manager`) they run one by one.
 */
export async function sendTogether(runner: SqlRunner, statements: Statement[]): Promise<unknown[][]> {
  const queryRunner = boundPostgresRunner(runner);
  if (!queryRunner) return oneByOne(runner, statements);
  return flight(queryRunner, statements, false);
}

/**
 * The last statements of a `withTransaction`, sent together with its `COMMIT` (one round trip
 * with the pool's pipeline mode), answered with each statement's rows once committed. The server
 * runs them in order; if one fails, the transaction is aborted, the `COMMIT` rolls it back, and
 * that statement's error is thrown (so `withTransaction` retries a deadlock as usual). Only for
 * statements whose answers nothing has to check before the commit, or that check themselves
 * (`ledger_posted_id`). The work must send nothing after it.
 *
 * Where the runner's transaction is not one `withTransaction` opened at the top level (a
 * savepoint, TypeORM's own transaction, no transaction), the statements are sent together and
 * the owner commits as before.
 */
export async function commitWith(runner: SqlRunner, statements: Statement[]): Promise<unknown[][]> {
  const queryRunner = boundPostgresRunner(runner);
  if (!queryRunner) return oneByOne(runner, statements);
  const state = queryRunner as unknown as RunnerState;
  const owned = pipelines.has(queryRunner) && queryRunner.isTransactionActive && state.transactionDepth === 1;
  return flight(queryRunner, statements, owned);
}

async function oneByOne(runner: SqlRunner, statements: Statement[]): Promise<unknown[][]> {
  const answers: unknown[][] = [];
  for (const s of statements) answers.push(await namedRows(runner, s.sql, s.params));
  return answers;
}

/** The statements (and COMMIT, when `commit`) handed to the connection at once; every answer awaited. */
async function flight(queryRunner: QueryRunner, statements: Statement[], commit: boolean): Promise<unknown[][]> {
  const client = (await queryRunner.connect()) as {
    query(config: string | { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; command?: string }>;
    getTransactionStatus?: () => string | null;
  };
  const pipeline = pipelines.get(queryRunner);
  if (pipeline) {
    await pipeline.started; // answered long since, unless the flight is the work's first statement
    assertInTransaction(client);
  }
  const logger = queryRunner.connection.logger;
  const sent = statements.map((s) => {
    logger.logQuery(s.sql.text, s.params, queryRunner);
    return client.query({ name: s.sql.name, text: s.sql.text, values: s.params });
  });
  if (commit) {
    // A statement the client refused before sending it (its parameters could not be encoded, a
    // name reused for another text) never reached the server, so it did not abort the
    // transaction: the COMMIT would commit the others. pg reports those on the next tick, so
    // look once they have had the chance, and send the COMMIT only if none was refused.
    let refusedBeforeSending = false;
    for (const p of sent) p.catch(() => (refusedBeforeSending = true));
    await new Promise((resolve) => setImmediate(resolve));
    if (refusedBeforeSending) discarded.add(queryRunner);
    else {
      logger.logQuery('COMMIT', [], queryRunner);
      sent.push(client.query('COMMIT'));
      // Whatever the answers, the transaction is over: committed, or rolled back by the COMMIT.
      const state = queryRunner as unknown as RunnerState;
      state.isTransactionActive = false;
      state.transactionDepth = 0;
    }
  }
  const settled = await Promise.allSettled(sent);
  const failed = settled.findIndex((x) => x.status === 'rejected');
  if (failed >= 0) {
    const error = (settled[failed] as PromiseRejectedResult).reason as Error;
    const text = failed < statements.length ? statements[failed].sql.text : 'COMMIT';
    const params = failed < statements.length ? statements[failed].params : [];
    logger.logQueryError(error, text, params, queryRunner);
    throw new QueryFailedError(text, params, error);
  }
  if (commit) {
    // (Every statement succeeded, so the COMMIT was sent.)
    const committed = (settled[statements.length] as PromiseFulfilledResult<{ command?: string }>).value;
    // COMMIT in an aborted transaction answers ROLLBACK rather than failing.
    if (committed.command !== 'COMMIT') throw new Error(`the transaction was not committed (the server answered ${committed.command})`);
  }
  return settled.slice(0, statements.length).map((x) => (x as PromiseFulfilledResult<{ rows: unknown[] }>).value.rows);
}
