import pg from 'pg';
import { Decimal } from '@ccx/core';
import { QueryFailedError } from 'typeorm';
import { createLedgerTestDatabase, type LedgerTestDatabase } from '../test/ledger-test-db.js';
import { Ledger } from './ledger.js';
import { namedSql } from './sql.js';
import { commitWith, sendTogether, withTransaction } from './transaction.js';
import type { Account, TransactionInput } from './types.js';

/**
 * `withTransaction` sends START TRANSACTION without waiting for its answer, and `commitWith`
 * sends a transaction's last statements with its COMMIT: on the real PostgreSQL, through a pool
 * in pipeline mode as the app's (data-source.ts).
 */

let db: LedgerTestDatabase;
let seq = 0;

const INSERT = namedSql('spec_pipeline_insert', `INSERT INTO pipeline_probe (id, label) VALUES ($1, $2) RETURNING id, label`);
/** Fails with the given SQLSTATE when $1 is true (a deadlock or serialization failure on demand). */
const FAIL_IF = namedSql('spec_pipeline_fail_if', `SELECT pipeline_fail_if($1, $2) AS ok`);

beforeAll(async () => {
  db = await createLedgerTestDatabase();
  await db.dataSource.query(`CREATE TABLE pipeline_probe (id int PRIMARY KEY, label text NOT NULL)`);
  await db.dataSource.query(`CREATE TABLE posted_probe (id int PRIMARY KEY, tx bigint NOT NULL)`);
  await db.dataSource.query(`CREATE FUNCTION pipeline_fail_if(fail boolean, code text) RETURNS boolean LANGUAGE plpgsql AS $$
    BEGIN IF fail THEN RAISE EXCEPTION 'failed on purpose' USING ERRCODE = code; END IF; RETURN true; END $$`);
});
afterAll(async () => {
  await db.drop();
});

const id = () => ++seq;

async function labels(ids: number[]): Promise<string[]> {
  const found: { label: string }[] = await db.dataSource.query(`SELECT label FROM pipeline_probe WHERE id = ANY($1::int[]) ORDER BY id`, [ids]);
  return found.map((r) => r.label);
}

/** Every query the pool's clients are given, in order, with whether START's answer had come yet. */
function recordQueries(): { log: { text: string; startAnswered: boolean }[]; stop: () => void } {
  const original = pg.Client.prototype.query;
  const log: { text: string; startAnswered: boolean }[] = [];
  let startAnswered = true;
  pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
    const text = typeof config === 'string' ? config : (config as { text: string }).text;
    log.push({ text, startAnswered });
    const result = (original as (...a: unknown[]) => unknown).call(this, config, ...rest);
    if (text.startsWith('START TRANSACTION')) {
      startAnswered = false;
      void (result as Promise<unknown>).then(
        () => (startAnswered = true),
        () => (startAnswered = true),
      );
    }
    return result;
  } as typeof original;
  return { log, stop: () => (pg.Client.prototype.query = original) };
}

describe('withTransaction', () => {
  it('runs on a pool in pipeline mode (the precondition of every test below; the app sets it in data-source.ts)', async () => {
    const runner = db.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as { pipeline?: boolean };
      expect(client.pipeline).toBe(true);
    } finally {
      await runner.release();
    }
  });

  it("sends the work's first statement before START TRANSACTION is answered, and runs it inside the transaction", async () => {
    const recording = recordQueries();
    let xids: string[];
    try {
      xids = await withTransaction(db.dataSource, async (manager) => {
        const [first] = await manager.query(`SELECT txid_current()::text AS xid`);
        const [second] = await manager.query(`SELECT txid_current()::text AS xid`);
        return [first.xid, second.xid];
      });
    } finally {
      recording.stop();
    }
    const start = recording.log.findIndex((q) => q.text === 'START TRANSACTION');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(recording.log[start + 1]).toEqual({ text: 'SELECT txid_current()::text AS xid', startAnswered: false });
    expect(recording.log.map((q) => q.text).slice(start)).toEqual([
      'START TRANSACTION',
      'SELECT txid_current()::text AS xid',
      'SELECT txid_current()::text AS xid',
      'COMMIT',
    ]);
    // One transaction: both statements saw the same transaction id.
    expect(xids![0]).toBe(xids![1]);
  });

  it('starts at the isolation level asked for, in the same statement', async () => {
    const level = await withTransaction(
      db.dataSource,
      async (manager) => (await manager.query(`SELECT current_setting('transaction_isolation') AS level`))[0].level,
      { isolation: 'SERIALIZABLE' },
    );
    expect(level).toBe('serializable');
  });

  it('rolls back everything when the work fails, and the connection serves the next transaction', async () => {
    const a = id();
    await expect(
      withTransaction(db.dataSource, async (manager) => {
        await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`, [a]);
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(await labels([a])).toEqual([]);
    const b = id();
    await withTransaction(db.dataSource, (manager) => manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'b')`, [b]));
    expect(await labels([b])).toEqual(['b']);
  });
});

describe('withTransaction when START TRANSACTION fails', () => {
  it('refuses every statement after the first, so nothing more runs outside a transaction', async () => {
    const [a, b] = [id(), id()];
    const original = pg.Client.prototype.query;
    // A START the server rejects (a syntax error), as a cancel hitting it would.
    pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
      const text = config === 'START TRANSACTION' ? 'START TRANSACTIO' : config;
      return (original as (...x: unknown[]) => unknown).call(this, text, ...rest);
    } as typeof original;
    let error: unknown;
    try {
      error = await withTransaction(db.dataSource, async (manager) => {
        await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'first')`, [a]).catch(() => undefined);
        await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'second')`, [b]);
        await commitWith(manager, [{ sql: INSERT, params: [b + 1000000, 'flight'] }]);
      }).catch((e: unknown) => e);
    } finally {
      pg.Client.prototype.query = original;
    }
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(String((error as Error).message)).toMatch(/syntax error/);
    // The first statement went with START and ran on its own (docs/LEDGER.md); nothing after it.
    expect(await labels([a])).toEqual(['first']);
    expect(await labels([b, b + 1000000])).toEqual([]);
    // The connection went back to the pool clean: the next transaction works.
    await withTransaction(db.dataSource, (manager) => manager.query(`SELECT 1`));
  });
});

describe('commitWith', () => {
  it('does not send the COMMIT when the client refused a statement before sending it', async () => {
    const [a, b] = [id(), id()];
    const error = await withTransaction(db.dataSource, async (manager) => {
      await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`, [a]);
      // A parameter pg cannot encode (JSON of a BigInt): refused in the client, never sent, so the
      // server's transaction is not aborted by it.
      await commitWith(manager, [
        { sql: INSERT, params: [b, 'b'] },
        { sql: INSERT, params: [b + 1, { big: 1n }] },
      ]);
      return null;
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(await labels([a, b, b + 1])).toEqual([]);
  });

  it('sends nothing when no transaction is open on the connection any more: the statements would each commit alone', async () => {
    const [a, b] = [id(), id()];
    const error = await withTransaction(db.dataSource, async (manager) => {
      await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`, [a]);
      // The work ends the transaction behind TypeORM's back: the connection is idle ('I').
      await manager.query('ROLLBACK');
      await commitWith(manager, [{ sql: INSERT, params: [b, 'b'] }]);
      return null;
    }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/no transaction is open on this connection \(status I\)/);
    expect(await labels([a, b])).toEqual([]);
  });

  it('sends nothing into an aborted transaction whose failure the work caught', async () => {
    const [a, b] = [id(), id()];
    const recording = recordQueries();
    let error: unknown;
    try {
      error = await withTransaction(db.dataSource, async (manager) => {
        await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`, [a]);
        await manager.query(`SELECT pipeline_fail_if(true, '22012')`).catch(() => undefined);
        await commitWith(manager, [{ sql: INSERT, params: [b, 'b'] }]);
        return null;
      }).catch((e: unknown) => e);
    } finally {
      recording.stop();
    }
    expect(String((error as Error).message)).toMatch(/status E/);
    expect(recording.log.map((q) => q.text)).not.toContain(INSERT.text);
    expect(await labels([a, b])).toEqual([]);
  });

  it('commits the last statements with the transaction, answers their rows, and leaves nothing to commit after', async () => {
    const [a, b, c] = [id(), id(), id()];
    const recording = recordQueries();
    let answers: unknown[][];
    try {
      answers = await withTransaction(db.dataSource, async (manager) => {
        await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`, [a]);
        return commitWith(manager, [
          { sql: INSERT, params: [b, 'b'] },
          { sql: INSERT, params: [c, 'c'] },
        ]);
      });
    } finally {
      recording.stop();
    }
    expect(answers!).toEqual([[{ id: b, label: 'b' }], [{ id: c, label: 'c' }]]);
    expect(await labels([a, b, c])).toEqual(['a', 'b', 'c']);
    const texts = recording.log.map((q) => q.text);
    expect(texts.slice(texts.indexOf('START TRANSACTION'))).toEqual([
      'START TRANSACTION',
      `INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`,
      INSERT.text,
      INSERT.text,
      'COMMIT',
    ]);
  });

  it('rolls back the whole transaction when one of its statements fails, and throws that error', async () => {
    const [a, b] = [id(), id()];
    await db.dataSource.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'taken')`, [b]);
    const error = await withTransaction(db.dataSource, async (manager) => {
      await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'a')`, [a]);
      await commitWith(manager, [{ sql: INSERT, params: [b, 'again'] }]);
      return null;
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as QueryFailedError & { driverError: { code: string } }).driverError.code).toBe('23505');
    expect(await labels([a, b])).toEqual(['taken']);
  });

  it('is retried by withTransaction when the flight meets a deadlock, and commits once', async () => {
    const a = id();
    let attempts = 0;
    await withTransaction(db.dataSource, async (manager) => {
      attempts += 1;
      await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, $2)`, [a, `attempt ${attempts}`]);
      await commitWith(manager, [{ sql: FAIL_IF, params: [attempts === 1, '40P01'] }]);
    });
    expect(attempts).toBe(2);
    expect(await labels([a])).toEqual(['attempt 2']);
  });

  it('does not commit a transaction it did not open: inside TypeORM’s own, the statements roll back with it', async () => {
    const a = id();
    await expect(
      db.dataSource.transaction(async (manager) => {
        await commitWith(manager, [{ sql: INSERT, params: [a, 'a'] }]);
        expect(await manager.query(`SELECT label FROM pipeline_probe WHERE id = $1`, [a])).toEqual([{ label: 'a' }]);
        throw new Error('the owner rolls back');
      }),
    ).rejects.toThrow('the owner rolls back');
    expect(await labels([a])).toEqual([]);
  });

  it('does not commit from inside a savepoint: the outer transaction still decides', async () => {
    const [a, b] = [id(), id()];
    await expect(
      withTransaction(db.dataSource, async (manager) => {
        await manager.transaction(async (inner) => {
          await commitWith(inner, [{ sql: INSERT, params: [a, 'a'] }]);
        });
        await manager.query(`INSERT INTO pipeline_probe (id, label) VALUES ($1, 'b')`, [b]);
        throw new Error('the outer transaction fails');
      }),
    ).rejects.toThrow('the outer transaction fails');
    expect(await labels([a, b])).toEqual([]);
  });
});

describe('a post and the rows that point at it, in one flight (preparePostMany, ledger_posted_id)', () => {
  const ledger = new Ledger();
  const T0 = new Date('2026-01-05T12:00:00.000Z');
  /** A row pointing at the transaction posted under key $2 in this database transaction. */
  const POINT = namedSql('spec_posted_probe', `INSERT INTO posted_probe (id, tx) VALUES ($1, ledger_posted_id($2)) RETURNING tx::text AS tx`);
  let source: Account;
  let wallet: Account;

  beforeAll(async () => {
    source = await ledger.createAccount(db.dataSource.manager, { code: 'flight-source', asset: 'USD', allowNegative: true, allowPositive: true });
    wallet = await ledger.createAccount(db.dataSource.manager, { code: 'flight-wallet', asset: 'USD', allowNegative: false, allowPositive: true });
  });

  /** `amount` from one account to the other, under `key`. */
  const move = (from: () => Account, to: () => Account) => (key: string, amount: string): TransactionInput => ({
    idempotencyKey: key,
    kind: 'spec',
    effectiveAt: T0,
    postings: [
      { accountId: from().id, direction: 'DEBIT', amount },
      { accountId: to().id, direction: 'CREDIT', amount },
    ],
  });
  const pay = move(() => source, () => wallet);
  const back = move(() => wallet, () => source);
  const posted = async () => (await ledger.balance(db.dataSource.manager, wallet.id)).posted.toFixed(2);
  const pointers = async (ids: number[]) =>
    (await db.dataSource.query(`SELECT id, tx::text AS tx FROM posted_probe WHERE id = ANY($1::int[]) ORDER BY id`, [ids])) as { id: number; tx: string }[];

  it('commits the post with the rows that name it by key, and they carry its id', async () => {
    const a = id();
    const before = await posted();
    const { results, pointed } = await withTransaction(db.dataSource, async (manager) => {
      const post = await ledger.preparePostMany(manager, [pay(`flight-${a}`, '5.00')]);
      const [postRows, pointRows] = await commitWith(manager, [post.statement!, { sql: POINT, params: [a, `flight-${a}`] }]);
      return { results: post.results(postRows), pointed: pointRows as { tx: string }[] };
    });
    expect(results).toEqual([{ status: 'accepted', transactionId: expect.any(String) }]);
    const txId = (results[0] as { transactionId: string }).transactionId;
    expect(pointed).toEqual([{ tx: txId }]);
    expect(await pointers([a])).toEqual([{ id: a, tx: txId }]);
    expect(await posted()).toBe(new Decimal(before).plus('5.00').toFixed(2));
  });

  /** Posts `input` and, in the same flight with COMMIT, a row naming it by key: expects nothing committed. */
  async function expectNothingCommitted(input: TransactionInput, pointId: number): Promise<void> {
    const before = await posted();
    const error = await withTransaction(db.dataSource, async (manager) => {
      const post = await ledger.preparePostMany(manager, [input]);
      await commitWith(manager, [post.statement!, { sql: POINT, params: [pointId, input.idempotencyKey] }]);
      return null;
    }).catch((e: unknown) => e);
    expect((error as QueryFailedError & { driverError: { code: string } }).driverError.code).toBe('P0002');
    expect(await pointers([pointId])).toEqual([]);
    expect(await posted()).toBe(before);
  }

  it('commits nothing when the post is refused: the rows cannot name it', async () => {
    const a = id();
    // More than the wallet holds: the ledger refuses it (an answer, not an error).
    await expectNothingCommitted(back(`flight-over-${a}`, '1000000.00'), a);
  });

  it('commits nothing when the post is the replay of an earlier one: the rows cannot name that one', async () => {
    const a = id();
    const key = `flight-replay-${a}`;
    await ledger.postMany(db.dataSource.manager, [pay(key, '2.00')]);
    await expectNothingCommitted(pay(key, '2.00'), a);
  });

  it('answers the same results as postMany when sent without the commit', async () => {
    const a = id();
    const results = await withTransaction(db.dataSource, async (manager) => {
      const post = await ledger.preparePostMany(manager, [pay(`flight-send-${a}`, '1.00'), back(`flight-send-over-${a}`, '1000000.00')]);
      const [postRows] = await sendTogether(manager, [post.statement!]);
      return post.results(postRows);
    });
    expect(results[0]).toEqual({ status: 'accepted', transactionId: expect.any(String) });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: 'LIMIT_EXCEEDED' });
  });
});
