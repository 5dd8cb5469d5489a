/**
 * Usage report benchmark (`npm run bench:report`; issue 13 item 5). Figures and method:
 * docs/BENCHMARKS.md, "Usage report at 10 million events"; the partitioning: docs/PARTITIONING.md.
 *
 * Starts its own embedded PostgreSQL in a fresh temp folder, or, when DATABASE_URL is set, creates
 * a throwaway database `ccx_bench_<random>` on that server; applies the migrations. Then seeds,
 * server-side with generate_series, BENCH_EVENTS usage events (default 10,000,000) over 12 UTC
 * months ending with the current one: 999 ordinary buyers spread evenly over every month, and one
 * hot buyer with BENCH_HOT_EVENTS events (default 1,000,000) in the measured month (the previous
 * month); rows arrive in time order, buyers interleaved, as a live table fills; 90% token events over
 * five models, 10% GPU-time events. The keys table gets one row per event. The load drops the
 * report index and the keys' primary key and builds them after (the same definitions as the
 * migration), then VACUUM ANALYZE. With BENCH_FLAT=1 (the default) the same rows are also copied
 * into an unpartitioned table with the same report index (the layout before the migration).
 *
 * Measured, through UsageReportsService.report (the built service's own SQL, captured and also
 * sent as is to the unpartitioned copy): the hot buyer over the measured month grouped by DAY and
 * by MODEL, an ordinary buyer over the same month, and the operator's report of every buyer over
 * one day; the first run of each (a fresh connection, after the other table was read) and
 * BENCH_RUNS further runs (default 15): p50 and p99 in ms, beside each goal. Plus the
 * pre-partitioning query text (`$1 IS NULL OR`, grouped by to_char) on the unpartitioned copy: the
 * before. EXPLAIN (ANALYZE, BUFFERS) of the hot buyer's DAY report goes to stderr, and a JSON line
 * says which partitions it read. Machine load (loadavg) at start and end. One JSON line per
 * figure on stdout.
 */
import { loadavg } from 'node:os';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '../apps/api/src/database/data-source.js';
import { UsageReportsService } from '../apps/api/src/usage/usage-reports.service.js';
import type { Database } from '../scripts/lib/local-server.js';
import { benchLog, benchMain } from './lib/bench-main.js';
import { percentile, positiveNumber, round } from './lib/measure.js';

const EVENTS = positiveNumber(process.env.BENCH_EVENTS, 10_000_000);
const HOT_EVENTS = positiveNumber(process.env.BENCH_HOT_EVENTS, 1_000_000);
const RUNS = positiveNumber(process.env.BENCH_RUNS, 15);
const FLAT = process.env.BENCH_FLAT !== '0';
const BUYERS = 999;
const MONTHS = 12;
const HOT = '00000000-0000-4000-8000-00000000a001';
const SMALL = 'md5-buyer-7';
const log = benchLog('report');

/**
 * The goals. One buyer's month (the console's usage page, the REST CSV export) is a request a
 * person waits on: under a second at p99 even for a buyer with a million events in the month,
 * and near-instant (under 50 ms) for an ordinary buyer, whatever the table holds in other months
 * or for other buyers — the figure partitioning must keep flat as the table grows to a billion.
 */
const GOALS: Record<string, { text: string; p99Ms: number }> = {
  hot_day: { text: 'p99 < 1,000 ms for 1M events of one buyer in the month', p99Ms: 1000 },
  hot_model: { text: 'p99 < 1,000 ms for 1M events of one buyer in the month', p99Ms: 1000 },
  small_day: { text: 'p99 < 50 ms for an ordinary buyer, independent of the table size', p99Ms: 50 },
  operator_day: { text: 'p99 < 1,000 ms for one day of every buyer', p99Ms: 1000 },
};

const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const load = () => loadavg().map((n) => round(n));

function monthStart(offset: number): Date {
  const now = new Date();
  const d = new Date(0);
  d.setUTCFullYear(now.getUTCFullYear(), now.getUTCMonth() + offset, 1);
  return d;
}

/** The ordinary buyer `i`'s id (deterministic). */
const buyerSql = (i: string) => `md5('md5-buyer-' || (${i}))::uuid`;

async function seed(ds: DataSource): Promise<{ measured: Date; next: Date; partitions: number }> {
  const first = monthStart(-(MONTHS - 1));
  const measured = monthStart(-1);
  const next = monthStart(0);
  const end = monthStart(1);
  await ds.query(`SELECT ensure_monthly_partitions('usage_events', $1, $2)`, [first, end]);
  const ordinaryPerMonth = Math.floor((EVENTS - HOT_EVENTS) / MONTHS);
  log(`seeding ${EVENTS.toLocaleString('en-US')} events: ${ordinaryPerMonth.toLocaleString('en-US')} per month of ${BUYERS} buyers, ` +
    `+ ${HOT_EVENTS.toLocaleString('en-US')} of the hot buyer in ${measured.toISOString().slice(0, 7)}`);
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SET synchronous_commit = off`);
    await runner.query(`SET maintenance_work_mem = '512MB'`);
    await runner.query(`DROP INDEX usage_events_report_idx`);
    await runner.query(`ALTER TABLE usage_events DISABLE TRIGGER usage_event_keys_record`);
    await runner.query(`ALTER TABLE usage_event_keys DROP CONSTRAINT usage_event_keys_pkey`);
    for (let m = 0; m < MONTHS; m++) {
      const from = monthStart(-(MONTHS - 1) + m);
      const to = monthStart(-(MONTHS - 1) + m + 1);
      const hot = from.getTime() === measured.getTime() ? HOT_EVENTS : 0;
      const rows = ordinaryPerMonth + hot + (m === MONTHS - 1 ? EVENTS - HOT_EVENTS - ordinaryPerMonth * MONTHS : 0);
      const t0 = performance.now();
      // Row g (from 1) of the month occurs at from + (g - 1)/rows of the month (time order); the hot buyer's rows
      // are spread evenly among the others' (every k-th, k from the two counts).
      await runner.query(
        `INSERT INTO usage_events (organization_id, event_id, model, input_tokens, output_tokens, gpu_type, gpu_seconds,
            input_rate, output_rate, credits_per_gpu_hour, credits, occurred_at, recorded_at)
         SELECT CASE WHEN is_hot THEN $5::uuid ELSE ${buyerSql('1 + (g * 7919) % ' + BUYERS)} END,
                'm' || $4 || '-' || g,
                CASE WHEN g % 10 = 0 THEN NULL ELSE 'model-' || (g % 5) END,
                CASE WHEN g % 10 = 0 THEN NULL ELSE 100 + g % 4000 END,
                CASE WHEN g % 10 = 0 THEN NULL ELSE 50 + g % 1500 END,
                CASE WHEN g % 10 = 0 THEN 'H100' END,
                CASE WHEN g % 10 = 0 THEN 1 + g % 3600 END,
                CASE WHEN g % 10 = 0 THEN NULL ELSE 0.5 END,
                CASE WHEN g % 10 = 0 THEN NULL ELSE 1.5 END,
                CASE WHEN g % 10 = 0 THEN 2.0 END,
                round(((g % 997) + 1) * 0.000037, 6),
                at, at
           FROM (SELECT g, $1::timestamptz + (($2::timestamptz - $1::timestamptz) * ((g - 1)::float8 / $3::bigint)) AS at,
                        $6::bigint > 0 AND (g * $6::bigint) / $3::bigint <> ((g - 1) * $6::bigint) / $3::bigint AS is_hot
                   FROM generate_series(1, $3::bigint) g) x`,
        [from, to, rows, m, HOT, hot],
      );
      log(`month ${from.toISOString().slice(0, 7)}: ${rows.toLocaleString('en-US')} rows in ${round((performance.now() - t0) / 1000, 1)} s`);
    }
    let t0 = performance.now();
    await runner.query(`CREATE INDEX usage_events_report_idx ON usage_events (organization_id, occurred_at)`);
    log(`report index built in ${round((performance.now() - t0) / 1000, 1)} s`);
    t0 = performance.now();
    await runner.query(`INSERT INTO usage_event_keys (organization_id, event_id, credits) SELECT organization_id, event_id, credits FROM usage_events`);
    await runner.query(`ALTER TABLE usage_event_keys ADD PRIMARY KEY (organization_id, event_id)`);
    await runner.query(`ALTER TABLE usage_events ENABLE TRIGGER usage_event_keys_record`);
    log(`keys filled and indexed in ${round((performance.now() - t0) / 1000, 1)} s`);
    if (FLAT) {
      t0 = performance.now();
      await runner.query(`CREATE TABLE usage_events_flat AS SELECT * FROM usage_events ORDER BY occurred_at`);
      await runner.query(`CREATE INDEX usage_events_flat_report_idx ON usage_events_flat (organization_id, occurred_at)`);
      log(`unpartitioned copy made in ${round((performance.now() - t0) / 1000, 1)} s`);
    }
    t0 = performance.now();
    await runner.query(`VACUUM ANALYZE usage_events`);
    await runner.query(`VACUUM ANALYZE usage_event_keys`);
    if (FLAT) await runner.query(`VACUUM ANALYZE usage_events_flat`);
    log(`VACUUM ANALYZE in ${round((performance.now() - t0) / 1000, 1)} s`);
  } finally {
    await runner.release();
  }
  const [{ hot }] = await ds.query(`SELECT count(*)::int AS hot FROM usage_events WHERE organization_id = $1 AND occurred_at >= $2 AND occurred_at < $3`, [HOT, measured, next]);
  const [stats] = await ds.query(
    `SELECT (SELECT sum(reltuples)::bigint::text FROM pg_class WHERE relispartition AND relkind = 'r' AND relname LIKE 'usage\\_events\\_%') AS rows,
            (SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'usage_events'::regclass) AS partitions,
            (SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'usage_events'::regclass) AS size`,
  );
  emit({ seeded: true, events: Number(stats.rows), hotEventsInMonth: hot, partitions: stats.partitions, size: stats.size, month: measured.toISOString().slice(0, 7) });
  if (hot !== HOT_EVENTS) throw new Error(`the hot buyer has ${hot} events in the month, not ${HOT_EVENTS}`);
  return { measured, next, partitions: stats.partitions };
}

/** The pre-partitioning statement (UsageReportsService before migration 1763700000017). */
function beforeSql(groupBy: 'DAY' | 'MODEL', table: string): string {
  const key = groupBy === 'DAY' ? `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')` : `coalesce(model, 'gpu:' || gpu_type)`;
  return `SELECT ${key} AS key, count(*)::text AS events, sum(credits)::text AS credits
       FROM ${table}
       WHERE ($1::uuid IS NULL OR organization_id = $1) AND occurred_at >= $2 AND occurred_at < $3
       GROUP BY 1 ORDER BY 1`;
}

interface Case {
  name: string;
  organizationId: string | null;
  from: Date;
  to: Date;
  groupBy: 'DAY' | 'MODEL';
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

async function run(db: Database): Promise<void> {
  emit({ machine: true, loadavgStart: load(), note: '2 shared cores; see uptime beside the figures' });
  log('applying the migrations');
  await runMigrations(db.url);
  const ds = new DataSource({ ...dataSourceOptions(db.url), extra: { max: 2 } });
  await ds.initialize();
  try {
    const [{ version }] = await ds.query(`SELECT version()`);
    log(`database: ${version}`);
    const seedStarted = performance.now();
    const { measured, next, partitions } = await seed(ds);
    emit({ seedSeconds: round((performance.now() - seedStarted) / 1000, 1), loadavg: load() });

    const small = (await ds.query(`SELECT md5($1)::uuid AS id`, [SMALL]))[0].id as string;
    const day = new Date(measured.getTime() + 14 * 86_400_000);
    const cases: Case[] = [
      { name: 'hot_day', organizationId: HOT, from: measured, to: next, groupBy: 'DAY' },
      { name: 'hot_model', organizationId: HOT, from: measured, to: next, groupBy: 'MODEL' },
      { name: 'small_day', organizationId: small, from: measured, to: next, groupBy: 'DAY' },
      { name: 'operator_day', organizationId: null, from: day, to: new Date(day.getTime() + 86_400_000), groupBy: 'DAY' },
    ];

    // The service, with its statements captured (to send the same text to the unpartitioned copy).
    let captured: { sql: string; params: unknown[] } | null = null;
    const spy = { query: (sql: string, params: unknown[]) => ((captured = { sql, params }), ds.query(sql, params)) } as unknown as DataSource;
    const reports = new UsageReportsService(spy);

    for (const c of cases) {
      const input = { organizationId: c.organizationId, from: c.from, to: c.to, groupBy: c.groupBy };
      // First run on a fresh connection (no plan or catalog caches), after the other table was read.
      if (FLAT) await ds.query(`SELECT count(*) FROM usage_events_flat WHERE occurred_at >= $1 AND occurred_at < $2`, [c.from, c.to]);
      await ds.destroy();
      await ds.initialize();
      let rows: unknown[] = [];
      const first = await timed(async () => (rows = await reports.report(input)));
      const warm: number[] = [];
      for (let i = 0; i < RUNS; i++) warm.push(await timed(() => reports.report(input)));
      warm.sort((a, b) => a - b);
      const { sql, params } = captured!;
      const line: Record<string, unknown> = {
        scenario: c.name,
        table: 'partitioned',
        groupBy: c.groupBy,
        rows: rows.length,
        events: (rows as { events: number }[]).reduce((n, r) => n + r.events, 0),
        firstMs: round(first),
        p50Ms: percentile(warm, 50),
        p99Ms: percentile(warm, 99),
        runs: RUNS,
        goal: GOALS[c.name].text,
        met: percentile(warm, 99) < GOALS[c.name].p99Ms,
        loadavg: load(),
      };
      emit(line);
      if (FLAT) {
        for (const [variant, text, args] of [
          ['unpartitioned', sql.replace(/FROM usage_events\b/, 'FROM usage_events_flat'), params],
          ['unpartitioned, before (old SQL)', beforeSql(c.groupBy, 'usage_events_flat'), [c.organizationId, c.from, c.to]],
        ] as [string, string, unknown[]][]) {
          await ds.destroy();
          await ds.initialize();
          const f = await timed(() => ds.query(text, args));
          const times: number[] = [];
          for (let i = 0; i < RUNS; i++) times.push(await timed(() => ds.query(text, args)));
          times.sort((a, b) => a - b);
          emit({ scenario: c.name, table: variant, groupBy: c.groupBy, firstMs: round(f), p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), runs: RUNS, loadavg: load() });
        }
      }
      if (c.name === 'hot_day') {
        const plan: { 'QUERY PLAN': string }[] = await ds.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
        const text = plan.map((p) => p['QUERY PLAN']).join('\n');
        log(`EXPLAIN (ANALYZE, BUFFERS) of hot_day on the partitioned table:\n${text}`);
        const scanned = [...new Set([...text.matchAll(/ on (usage_events_\w+)/g)].map((m) => m[1]))];
        emit({ explain: 'hot_day', partitionsScanned: scanned, partitionsInTable: partitions });
      }
    }
    emit({ machine: true, loadavgEnd: load() });
  } finally {
    if (ds.isInitialized) await ds.destroy();
  }
}

benchMain('report', run);
