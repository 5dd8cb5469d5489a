/**
 * Inference gateway benchmark (`npm run bench:gateway`, issue 9 item 11). Figures and method:
 * docs/BENCHMARKS.md, section "Gateway".
 *
 * One local fake provider (scripts/lib/fake-provider.ts, 20 ms before every answer, in a process
 * of its own on 127.0.0.1) is called by `BENCH_CLIENTS` (32) concurrent client loops, first
 * directly, then through CCX (`POST /v1/chat/completions` with one hot buyer's key), with the same
 * request bodies: JSON, then streaming (`stream: true`, `stream_options.include_usage`, the whole
 * SSE body read). CCX is the built API as a child process (scripts/lib/local-server.ts) on a fresh
 * embedded PostgreSQL (durable settings) or, with DATABASE_URL, a throwaway database on that server.
 *
 * Then the gateway's hold and capture alone (issue 13 item 2: each ≥ 1,000/s, p99 < 50 ms): the
 * app's GatewayCreditsService in this process on the same database, 32 loops of hold then capture
 * for the one buyer, no HTTP, no provider (`holdCapture`; `BENCH_ONLY=pairs` runs only that).
 *
 * Per mode it prints, beside the goals of this 2-core machine (CCX keeps ≥ 50 % of the direct
 * throughput and adds ≤ 10 ms at p50): requests/s, p50 and p99 direct and through CCX, the added
 * p50, time to first byte for streams, CPU ms per request of the API process and of PostgreSQL,
 * errors, and whether the buyer's credits moved by exactly the sum of the receipts
 * (`x-ccx-credits`, or `usage.credits` of the last stream chunk), summed as exact decimals.
 *
 * Environment: BENCH_SECONDS (15) per measured phase; BENCH_WARMUP_SECONDS (3) per warm-up;
 * BENCH_CLIENTS (32); DATABASE_URL; BENCH_SERVER_LOG=1 copies the server's output to stderr;
 * BENCH_CPU_PROFILE=<folder> runs the API under the V8 profiler (bench/lib/profiled-api.ts) and
 * writes one .cpuprofile per CCX phase there (the profiler slows the API: not for the figures).
 * One JSON line per measured phase and a summary line on stdout, then a Markdown table; progress
 * on stderr. Exits non-zero only when the setup fails.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { Decimal } from '@ccx/core';
import { startServer } from '../apps/api/src/bootstrap.js';
import { loadConfig } from '../apps/api/src/config/app-config.js';
import { GatewayCreditsService, type CloseRequest, type OpenRequest } from '../apps/api/src/gateway/gateway-credits.service.js';
import { spawnApi } from '../scripts/lib/api-process.js';
import { Api, onCleanup, startApiProcess, type Database } from '../scripts/lib/local-server.js';
import { benchLog, benchMain } from './lib/bench-main.js';
import { CpuMeter, percentile, positiveNumber, processSeconds, round } from './lib/measure.js';

const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 15);
const WARMUP_SECONDS = positiveNumber(process.env.BENCH_WARMUP_SECONDS, 3);
const CLIENTS = positiveNumber(process.env.BENCH_CLIENTS, 32);
const PROVIDER_LATENCY_MS = 20;
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE || null;
/** `BENCH_ONLY=pairs`: only the hold-and-capture phase (no HTTP phases). */
const ONLY_PAIRS = process.env.BENCH_ONLY === 'pairs';
const GOAL_RATIO = 0.5;
const GOAL_ADDED_P50_MS = 10;
/** Issue 13 item 2: the gateway's hold and capture, each ≥ 1,000 a second with p99 < 50 ms. */
const GOAL_PAIRS_PER_SECOND = 1000;
const GOAL_P99_MS = 50;
/** The hold of a hold-and-capture pair: about what a prompt of the mix with max_tokens 64 holds. */
const PAIR_HOLD = '0.05';
/** Input and output tokens of the captures, cycled: the fake provider's answers to the prompts. */
const PAIR_TOKENS: [number, number][] = [[21, 9], [27, 4], [40, 64], [19, 7]];
const MODEL = 'bench-llm';
/** The model's rate card, credits per million input / output tokens. */
const RATE_CARD = { input: '100', output: '300' };
const OPERATOR_KEY = `ccx-bench-operator-${randomBytes(12).toString('hex')}`;
/** Seals the (absent) upstream keys; fixed so runs are alike. Not a secret. */
const GATEWAY_SECRET_KEY = '6363782d62656e63682d676174657761792d6b65792d6e6f742d736563726574';
const RUN = randomBytes(3).toString('hex');
const CREDITS_BOUGHT = '100000';

const log = benchLog('gateway');

/**
 * The request bodies, cycled by every client, identical direct and through CCX. Varied prompts
 * give varied charges (the fake provider counts a word as a token), so the exactness check is not
 * one amount times a count.
 */
const PROMPTS = [
  'Say hello.',
  'Name the capital of France in one word.',
  'Summarise the rules of chess in a short paragraph for a child who has never played it before.',
  'What is 2 + 2?',
];
function bodies(stream: boolean): string[] {
  return PROMPTS.map((content) =>
    JSON.stringify({
      model: MODEL,
      messages: [
        { role: 'system', content: 'You are a concise assistant.' },
        { role: 'user', content },
      ],
      max_tokens: 64,
      temperature: 0,
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  );
}

/** The fake provider as a child process (bench/lib/fake-provider-process.ts); stopped by cleanup. */
async function startProvider(): Promise<{ url: string; pid: number }> {
  const entry = fileURLToPath(new URL('./lib/fake-provider-process.js', import.meta.url));
  const child: ChildProcess = fork(entry, [], {
    env: { ...process.env, FAKE_PROVIDER_LATENCY_MS: String(PROVIDER_LATENCY_MS) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { type?: string; url?: string }) => (m?.type === 'ready' && m.url ? resolve(m.url) : reject(new Error('bad message'))));
    void exited.then(() => reject(new Error('the fake provider exited during start')));
  });
  return { url, pid: child.pid! };
}

/** The API's settings, for the child process and for the hold-and-capture phase's app. */
const API_ENV: Record<string, string> = {
  CCX_SERVICING_INTERVAL_MS: '0',
  CCX_WEBHOOK_INTERVAL_MS: '0',
  CCX_ALLOW_PRIVATE_URLS: 'true',
  CCX_GATEWAY_SECRET_KEY: GATEWAY_SECRET_KEY,
  CCX_RATE_LIMIT_PER_KEY: '0',
  CCX_RATE_LIMIT_PER_IP: '0',
  LOG_LEVEL: 'error',
};

/** The API, normally through startApiProcess; in profile mode through bench/lib/profiled-api.ts. */
async function startApi(db: Database): Promise<{ base: string; pid: number }> {
  const env = API_ENV;
  const verbose = process.env.BENCH_SERVER_LOG === '1';
  if (!PROFILE_DIR) return startApiProcess({ root: db.root, url: db.url, operatorKey: OPERATOR_KEY, env, log, verbose });
  mkdirSync(PROFILE_DIR, { recursive: true });
  const full: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: db.url,
    CCX_OPERATOR_KEY: OPERATOR_KEY,
    CCX_DATA_DIR: join(db.root, 'unused-data'),
    ...env,
    BENCH_CPU_PROFILE_DIR: PROFILE_DIR,
  };
  for (const name of ['CCX_TEST_CLOCK', 'CCX_CLOCK_START']) delete full[name];
  const api = await spawnApi({
    mainJs: fileURLToPath(new URL('./lib/profiled-api.js', import.meta.url)),
    cwd: db.root,
    env: full,
    onLine: (line, stream) => {
      if (stream === 'stderr' || verbose) process.stderr.write(`[server] ${line}\n`);
    },
  });
  onCleanup(() => api.stop(20_000));
  log(`the API runs under the CPU profiler; profiles go to ${PROFILE_DIR}`);
  return api;
}

interface SetUp {
  buyerKey: string;
  buyerId: string;
  sellerId: string;
  listingId: string;
}

/** A seller's listing and endpoint on the fake provider, a rate card, one buyer with credits. */
async function setUp(api: Api, providerUrl: string): Promise<SetUp> {
  const register = async (role: 'SELLER' | 'BUYER') => {
    const d = await api.gql(`mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`, {
      input: { name: `bench-gw-${role.toLowerCase()}-${RUN}`, role },
    });
    return { id: d.registerOrganization.organization.id as string, key: d.registerOrganization.apiKey as string };
  };
  await api.gql(`mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`, {
    input: { id: MODEL, inputCreditsPerMillionTokens: RATE_CARD.input, outputCreditsPerMillionTokens: RATE_CARD.output, maxOutputTokens: 256 },
  }, OPERATOR_KEY);
  const seller = await register('SELLER');
  await api.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: seller.id }, OPERATOR_KEY);
  const now = Date.now();
  // Twice the credits bought, so the demand multiplier stays at 1.0.
  const listing = await api.gql(`mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`, {
    input: {
      gpuType: 'H100',
      region: 'us-east',
      gpuHours: String(2 * Number(CREDITS_BOUGHT)),
      wholesalePricePerGpuHour: '0.01',
      availableFrom: new Date(now - 86_400_000).toISOString(),
      availableUntil: new Date(now + 365 * 86_400_000).toISOString(),
    },
  }, seller.key);
  await api.gql(`mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { id } }`, {
    input: { listingId: listing.createListing.id, baseUrl: providerUrl, models: [{ model: MODEL }] },
  }, seller.key);
  const buyer = await register('BUYER');
  await api.gql(`mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`, {
    input: { organizationId: buyer.id, amount: '10000.00', reference: `bench-gw-${RUN}` },
  }, OPERATOR_KEY);
  await api.gql(`mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { credits } }`, {
    input: { credits: CREDITS_BOUGHT, idempotencyKey: `bench-gw-buy-${RUN}` },
  }, buyer.key);
  return { buyerKey: buyer.key, buyerId: buyer.id, sellerId: seller.id, listingId: listing.createListing.id as string };
}

async function availableCredits(api: Api, key: string): Promise<Decimal> {
  const d = await api.gql(`{ creditBalance { available } }`, {}, key);
  return new Decimal(d.creditBalance.available);
}

interface Tally {
  latencies: number[];
  ttfb: number[];
  requests: number;
  errors: number;
  errorKinds: Map<string, number>;
  /** Receipt amount (as CCX wrote it) → how many requests carried it: summed exactly at the end. */
  receipts: Map<string, number>;
}

const newTally = (): Tally => ({ latencies: [], ttfb: [], requests: 0, errors: 0, errorKinds: new Map(), receipts: new Map() });

function fail(t: Tally, label: string): void {
  t.errors++;
  t.errorKinds.set(label, (t.errorKinds.get(label) ?? 0) + 1);
}

function receiptSum(...tallies: Tally[]): Decimal {
  let sum = new Decimal(0);
  for (const t of tallies) for (const [amount, n] of t.receipts) sum = sum.plus(new Decimal(amount).times(n));
  return sum;
}

interface Target {
  via: 'direct' | 'ccx';
  pool: Pool;
  path: string;
  headers: Record<string, string>;
}

/** The last event before `data: [DONE]` of an SSE body, parsed; null when the stream did not end so. */
function lastEvent(text: string): { usage?: { credits?: string } } | null {
  const done = text.lastIndexOf('data: [DONE]');
  if (done < 0 || text.slice(done).trim() !== 'data: [DONE]') return null;
  const start = text.lastIndexOf('data: ', done - 1);
  if (start < 0) return null;
  return JSON.parse(text.slice(start + 6, done));
}

/** `CLIENTS` closed loops against one target until `seconds` have passed. */
async function load(target: Target, stream: boolean, seconds: number, tally: Tally): Promise<number> {
  const payloads = bodies(stream);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const client = async (c: number) => {
    for (let n = c; performance.now() < deadline; n++) {
      const t0 = performance.now();
      try {
        const res = await target.pool.request({ path: target.path, method: 'POST', headers: target.headers, body: payloads[n % payloads.length] });
        let first = 0;
        const parts: Buffer[] = [];
        for await (const chunk of res.body) {
          if (!first) first = performance.now();
          parts.push(chunk as Buffer);
        }
        const done = performance.now();
        const text = Buffer.concat(parts).toString('utf8');
        if (res.statusCode !== 200) {
          fail(tally, `HTTP ${res.statusCode}: ${text.slice(0, 120)}`);
          continue;
        }
        let credits: string | undefined;
        if (stream) {
          const last = lastEvent(text);
          if (!last?.usage) {
            fail(tally, 'stream without usage chunk or [DONE]');
            continue;
          }
          credits = last.usage.credits;
        } else {
          JSON.parse(text);
          const header = res.headers['x-ccx-credits'];
          credits = typeof header === 'string' ? header : undefined;
        }
        if (target.via === 'ccx') {
          if (credits === undefined) {
            fail(tally, 'no receipt');
            continue;
          }
          tally.receipts.set(credits, (tally.receipts.get(credits) ?? 0) + 1);
        }
        tally.latencies.push(done - t0);
        if (stream) tally.ttfb.push(first - t0);
        tally.requests++;
      } catch (error) {
        const e = error as { name?: string; message?: string; code?: string };
        fail(tally, `${e?.name ?? 'Error'}: ${String(e?.message ?? error).slice(0, 100)}${e?.code ? ` (${e.code})` : ''}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  return (performance.now() - started) / 1000;
}

/**
 * User and system CPU seconds of a process (all threads), and the context switches of its main
 * thread: voluntary (it waited, e.g. for I/O) and involuntary (preempted while runnable, as when a
 * write wakes a process that takes its core). Zeros without /proc.
 */
function processDetail(pid: number): { user: number; sys: number; voluntary: number; involuntary: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100, voluntary: count('voluntary_ctxt_switches'), involuntary: count('nonvoluntary_ctxt_switches') };
  } catch {
    return { user: 0, sys: 0, voluntary: 0, involuntary: 0 };
  }
}

/** Write transactions (XIDs assigned) and WAL bytes so far, from the database the API uses. */
async function dbCounters(db: pg.Client): Promise<{ xid: bigint; wal: bigint }> {
  const { rows } = await db.query<{ xid: string; wal: string }>(
    `SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal`,
  );
  return { xid: BigInt(rows[0].xid), wal: BigInt(rows[0].wal) };
}

interface Context {
  api: Api;
  buyerKey: string;
  apiPid: number;
  providerPid: number;
  db: pg.Client;
  postmasterPidFile: string | null;
  direct: Target;
  ccx: Target;
}

let profiles = 0;
/** Toggles the API's profiler (profile mode); on stop, waits for the profile file. */
async function toggleProfile(ctx: Context, on: boolean): Promise<void> {
  if (!PROFILE_DIR) return;
  process.kill(ctx.apiPid, 'SIGUSR2');
  if (on) {
    // Let the profiler start before the load does.
    await new Promise((r) => setTimeout(r, 200));
    return;
  }
  const file = join(PROFILE_DIR, `api-${++profiles}.cpuprofile`);
  for (let i = 0; i < 600 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  log(`profile written: ${file}`);
}

/** One measured phase: load, CPU split, database counters and (through CCX) the balance check. */
async function phase(ctx: Context, target: Target, mode: 'json' | 'stream') {
  const stream = mode === 'stream';
  const before = target.via === 'ccx' ? await availableCredits(ctx.api, ctx.buyerKey) : null;
  const counters = await dbCounters(ctx.db);
  const cpu = new CpuMeter('cpuLoadGeneratorPct', ctx.postmasterPidFile, { cpuApiPct: ctx.apiPid, cpuProviderPct: ctx.providerPid });
  const apiCpu = processSeconds(ctx.apiPid);
  const apiDetail = processDetail(ctx.apiPid);
  const providerCpu = processSeconds(ctx.providerPid);
  const tally = newTally();
  if (target.via === 'ccx') await toggleProfile(ctx, true);
  cpu.begin();
  const seconds = await load(target, stream, SECONDS, tally);
  const split = cpu.end();
  const apiCpuMs = (processSeconds(ctx.apiPid) - apiCpu) * 1000;
  const apiDetailAfter = processDetail(ctx.apiPid);
  const providerCpuMs = (processSeconds(ctx.providerPid) - providerCpu) * 1000;
  if (target.via === 'ccx') await toggleProfile(ctx, false);
  const after = target.via === 'ccx' ? await availableCredits(ctx.api, ctx.buyerKey) : null;
  const counted = await dbCounters(ctx.db);
  tally.latencies.sort((a, b) => a - b);
  tally.ttfb.sort((a, b) => a - b);
  const perRequest = (ms: number) => (tally.requests ? round(ms / tally.requests, 3) : null);
  const pgMs = split.cpuPostgresPct === undefined ? null : (split.cpuPostgresPct / 100) * seconds * 1000;
  const receipts = receiptSum(tally);
  return {
    tally,
    line: {
      phase: `${mode}_${target.via}`,
      clients: CLIENTS,
      seconds: round(seconds),
      requests: tally.requests,
      requestsPerSecond: Math.round(tally.requests / seconds),
      p50Ms: percentile(tally.latencies, 50),
      p99Ms: percentile(tally.latencies, 99),
      ...(stream ? { ttfbP50Ms: percentile(tally.ttfb, 50), ttfbP99Ms: percentile(tally.ttfb, 99) } : {}),
      errors: tally.errors,
      ...(tally.errorKinds.size ? { errorKinds: Object.fromEntries(tally.errorKinds) } : {}),
      cpuApiMsPerRequest: target.via === 'ccx' ? perRequest(apiCpuMs) : null,
      cpuPostgresMsPerRequest: target.via === 'ccx' && pgMs !== null ? perRequest(pgMs) : null,
      ...(target.via === 'ccx'
        ? {
            apiUserMsPerRequest: perRequest((apiDetailAfter.user - apiDetail.user) * 1000),
            apiSysMsPerRequest: perRequest((apiDetailAfter.sys - apiDetail.sys) * 1000),
            apiMainThreadWaitsPerRequest: perRequest(apiDetailAfter.voluntary - apiDetail.voluntary),
            apiMainThreadPreemptionsPerRequest: perRequest(apiDetailAfter.involuntary - apiDetail.involuntary),
          }
        : {}),
      cpuProviderMsPerRequest: perRequest(providerCpuMs),
      writeTransactionsPerRequest: target.via === 'ccx' && tally.requests ? round(Number(counted.xid - counters.xid) / tally.requests, 3) : null,
      walBytesPerRequest: target.via === 'ccx' && tally.requests ? Math.round(Number(counted.wal - counters.wal) / tally.requests) : null,
      ...(before && after
        ? { receipts: receipts.toFixed(6), balanceMoved: before.minus(after).toFixed(6), exact: before.minus(after).eq(receipts) }
        : {}),
      ...split,
    },
  };
}

/**
 * The gateway's hold and capture alone (issue 13 item 2), without HTTP or a provider: the app's
 * `GatewayCreditsService` in this process, on the bench's database, driven by `CLIENTS` loops of
 * open (a hold of `PAIR_HOLD`) then close (a capture at the bench model's rate card, with the
 * listing's served credits and the request's log row), all for the one hot buyer. The API child
 * process is idle meanwhile. Exact when the buyer's credits moved by the sum of the captures.
 */
async function holdCapture(ctx: Context, database: Database, setup: SetUp): Promise<Record<string, any>> {
  const server = await startServer(
    loadConfig({ ...API_ENV, NODE_ENV: 'development', DATABASE_URL: database.url, CCX_OPERATOR_KEY: OPERATOR_KEY, CCX_DATA_DIR: join(database.root, 'unused-data') }),
    { listen: false, schemaFile: join(mkdtempSync(join(tmpdir(), 'ccx-bench-schema-')), 'schema.gql') },
  );
  onCleanup(() => server.close());
  const credits = server.app.get(GatewayCreditsService);
  const rate = { inputPerMillion: new Decimal(RATE_CARD.input), outputPerMillion: new Decimal(RATE_CARD.output) };
  const before = await availableCredits(ctx.api, ctx.buyerKey);
  let charged = new Decimal(0);
  const pairs = async (seconds: number, t: { holds: number[]; captures: number[]; errors: number }) => {
    const until = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < until) {
          const [input, output] = PAIR_TOKENS[n++ % PAIR_TOKENS.length];
          const open: OpenRequest = { requestId: randomUUID(), organizationId: setup.buyerId, apiKeyId: null, keyLimit: null, model: MODEL, hold: new Decimal(PAIR_HOLD), stream: false };
          const t0 = performance.now();
          const opened = await credits.open(open);
          const t1 = performance.now();
          if (!opened.ok) {
            t.errors++;
            continue;
          }
          const close: CloseRequest = {
            ...open,
            holdId: opened.holdId,
            opened: false,
            rate,
            status: 'SUCCEEDED',
            charge: true,
            inputTokens: input,
            outputTokens: output,
            estimated: false,
            endpointId: null,
            listingId: setup.listingId,
            sellerId: setup.sellerId,
            attempts: 1,
            latencyMs: Math.round(t1 - t0),
            ttftMs: null,
            errorCode: null,
            startedAt: new Date(),
          };
          const closed = await credits.close(close);
          const t2 = performance.now();
          charged = charged.plus(closed.credits);
          if (closed.uncharged) t.errors++;
          t.holds.push(t1 - t0);
          t.captures.push(t2 - t1);
        }
      }),
    );
  };
  log(`hold and capture: warm-up`);
  await pairs(WARMUP_SECONDS, { holds: [], captures: [], errors: 0 });
  log(`hold and capture: ${CLIENTS} loops in this process`);
  const tally = { holds: [] as number[], captures: [] as number[], errors: 0 };
  const counters = await dbCounters(ctx.db);
  const cpu = new CpuMeter('cpuBenchProcessPct', ctx.postmasterPidFile);
  cpu.begin();
  const started = performance.now();
  await pairs(SECONDS, tally);
  const seconds = (performance.now() - started) / 1000;
  const split = cpu.end();
  const counted = await dbCounters(ctx.db);
  const after = await availableCredits(ctx.api, ctx.buyerKey);
  const ledger = (await ctx.api.gql(`{ ledgerIntegrity { balanced } }`, {}, OPERATOR_KEY)).ledgerIntegrity;
  tally.holds.sort((a, b) => a - b);
  tally.captures.sort((a, b) => a - b);
  const n = tally.holds.length;
  const perPair = (pct: number | undefined) => (pct === undefined || !n ? null : round(((pct / 100) * seconds * 1000) / n, 3));
  const pairsPerSecond = Math.round(n / seconds);
  const holdP99Ms = percentile(tally.holds, 99);
  const captureP99Ms = percentile(tally.captures, 99);
  return {
    phase: 'hold_capture',
    goal: `hold and capture each ≥ ${GOAL_PAIRS_PER_SECOND}/s with p99 < ${GOAL_P99_MS} ms (issue 13 item 2)`,
    met: pairsPerSecond >= GOAL_PAIRS_PER_SECOND && holdP99Ms < GOAL_P99_MS && captureP99Ms < GOAL_P99_MS,
    clients: CLIENTS,
    seconds: round(seconds),
    pairs: n,
    pairsPerSecond,
    holdP50Ms: percentile(tally.holds, 50),
    holdP99Ms,
    captureP50Ms: percentile(tally.captures, 50),
    captureP99Ms,
    errors: tally.errors,
    cpuNodeMsPerPair: perPair(split.cpuBenchProcessPct),
    cpuPostgresMsPerPair: perPair(split.cpuPostgresPct),
    writeTransactionsPerPair: n ? round(Number(counted.xid - counters.xid) / n, 3) : null,
    charged: charged.toFixed(6),
    balanceMoved: before.minus(after).toFixed(6),
    exact: before.minus(after).eq(charged) && ledger.balanced === true,
    ledgerBalanced: ledger.balanced,
    ...split,
  };
}

function verdict(ok: boolean): string {
  return ok ? 'met' : '**missed**';
}

async function run(database: Database): Promise<void> {
  const provider = await startProvider();
  log(`fake provider ${provider.url} (pid ${provider.pid}, ${PROVIDER_LATENCY_MS} ms per answer)`);
  const server = await startApi(database);
  log(`API pid ${server.pid} on ${server.base}; ${CLIENTS} clients, ${SECONDS} s per phase, ${WARMUP_SECONDS} s warm-ups`);
  const api = new Api(server.base);
  const setup = await setUp(api, provider.url);
  const { buyerKey } = setup;
  const db = new pg.Client({ connectionString: database.url });
  await db.connect();
  onCleanup(() => db.end());
  const pool = (origin: string) => new Pool(origin, { connections: CLIENTS, pipelining: 1, keepAliveTimeout: 30_000 });
  const json = { 'content-type': 'application/json' };
  const directPool = pool(new URL(provider.url).origin);
  const ccxPool = pool(server.base);
  onCleanup(async () => void (await Promise.all([directPool.close(), ccxPool.close()])));
  const ctx: Context = {
    api,
    buyerKey,
    apiPid: server.pid,
    providerPid: provider.pid,
    db,
    postmasterPidFile: database.postmasterPidFile,
    direct: { via: 'direct', pool: directPool, path: `${new URL(provider.url).pathname}/chat/completions`, headers: json },
    ccx: { via: 'ccx', pool: ccxPool, path: '/v1/chat/completions', headers: { ...json, authorization: `Bearer ${buyerKey}` } },
  };

  if (ONLY_PAIRS) return printPairs(await holdCapture(ctx, database, setup));

  const start = await availableCredits(api, buyerKey);
  /** Every CCX tally, warm-ups included: the buyer's credits moved by all their receipts. */
  const ccxTallies: Tally[] = [];
  const lines: Record<string, any>[] = [];
  for (const mode of ['json', 'stream'] as const) {
    log(`${mode}: warm-up`);
    for (const target of [ctx.direct, ctx.ccx]) {
      const warm = newTally();
      await load(target, mode === 'stream', WARMUP_SECONDS, warm);
      if (target.via === 'ccx') ccxTallies.push(warm);
      if (warm.errors) log(`warm-up ${mode} ${target.via}: ${warm.errors} errors ${JSON.stringify(Object.fromEntries(warm.errorKinds))}`);
    }
    for (const target of [ctx.direct, ctx.ccx]) {
      log(`${mode}: ${target.via}`);
      const r = await phase(ctx, target, mode);
      if (target.via === 'ccx') ccxTallies.push(r.tally);
      lines.push(r.line);
      process.stdout.write(`${JSON.stringify(r.line)}\n`);
    }
  }

  const end = await availableCredits(api, buyerKey);
  const receipts = receiptSum(...ccxTallies);
  const ledger = (await api.gql(`{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY)).ledgerIntegrity;
  const logged = (await api.gql(`{ inferenceRequests(first: 1) { totalCount } }`, {}, buyerKey)).inferenceRequests.totalCount;
  const sent = ccxTallies.reduce((n, t) => n + t.requests + t.errors, 0);
  const exact = end.plus(receipts).eq(start) && lines.every((l) => l.exact !== false) && ledger.balanced === true;
  const figures = (['json', 'stream'] as const).map((mode) => {
    const d = lines.find((l) => l.phase === `${mode}_direct`)!;
    const c = lines.find((l) => l.phase === `${mode}_ccx`)!;
    const ratio = d.requestsPerSecond ? c.requestsPerSecond / d.requestsPerSecond : 0;
    return { mode, d, c, ratio, added: round(c.p50Ms - d.p50Ms) };
  });
  process.stdout.write(
    `${JSON.stringify({
      summary: true,
      clients: CLIENTS,
      seconds: SECONDS,
      ...Object.fromEntries(figures.flatMap((f) => [[`${f.mode}Ratio`, round(f.ratio, 3)], [`${f.mode}AddedP50Ms`, f.added]])),
      creditsBefore: start.toFixed(6),
      creditsAfter: end.toFixed(6),
      receipts: receipts.toFixed(6),
      exact,
      ledgerBalanced: ledger.balanced,
      ...(ledger.problems?.length ? { ledgerProblems: ledger.problems.slice(0, 5) } : {}),
      requestsLogged: logged,
      requestsSentToCcx: sent,
    })}\n`,
  );

  const out: string[] = [
    '',
    `| mode | direct req/s | CCX req/s | CCX / direct (goal ≥ ${GOAL_RATIO * 100} %) | p50 / p99 direct ms | p50 / p99 CCX ms | added p50 (goal ≤ ${GOAL_ADDED_P50_MS} ms) | TTFB p50 direct / CCX ms | CPU ms/req API | CPU ms/req PostgreSQL | errors direct / CCX |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...figures.map(({ mode, d, c, ratio, added }) =>
      `| ${mode === 'json' ? 'JSON' : 'stream'} | ${d.requestsPerSecond} | ${c.requestsPerSecond} | ${Math.round(ratio * 100)} % ${verdict(ratio >= GOAL_RATIO)} | ` +
      `${d.p50Ms} / ${d.p99Ms} | ${c.p50Ms} / ${c.p99Ms} | ${added} ${verdict(added <= GOAL_ADDED_P50_MS)} | ` +
      `${mode === 'stream' ? `${d.ttfbP50Ms} / ${c.ttfbP50Ms}` : '—'} | ${c.cpuApiMsPerRequest} | ${c.cpuPostgresMsPerRequest ?? 'n/a'} | ${d.errors} / ${c.errors} |`,
    ),
    '',
    `exact: ${exact ? 'yes' : 'no'} (credits moved ${start.minus(end).toFixed(6)}, receipts ${receipts.toFixed(6)}; ledger ${ledger.balanced ? 'balanced' : 'NOT balanced'}; ${logged} requests logged, ${sent} sent)`,
    '',
  ];
  process.stdout.write(out.join('\n'));

  printPairs(await holdCapture(ctx, database, setup));
}

function printPairs(pairs: Record<string, any>): void {
  process.stdout.write(`${JSON.stringify(pairs)}\n`);
  process.stdout.write(
    [
      '',
      `| hold + capture pairs/s (goal ≥ ${GOAL_PAIRS_PER_SECOND}) | hold p50 / p99 ms | capture p50 / p99 ms (goal p99 < ${GOAL_P99_MS}) | CPU ms/pair Node / PostgreSQL | write transactions per pair | errors | exact |`,
      '| --- | --- | --- | --- | --- | --- | --- |',
      `| ${pairs.pairsPerSecond} ${verdict(pairs.pairsPerSecond >= GOAL_PAIRS_PER_SECOND)} | ${pairs.holdP50Ms} / ${pairs.holdP99Ms} ${verdict(pairs.holdP99Ms < GOAL_P99_MS)} | ` +
        `${pairs.captureP50Ms} / ${pairs.captureP99Ms} ${verdict(pairs.captureP99Ms < GOAL_P99_MS)} | ${pairs.cpuNodeMsPerPair} / ${pairs.cpuPostgresMsPerPair ?? 'n/a'} | ${pairs.writeTransactionsPerPair} | ${pairs.errors} | ${pairs.exact ? 'yes' : 'no'} (moved ${pairs.balanceMoved}, charged ${pairs.charged}) |`,
      '',
    ].join('\n'),
  );
}

benchMain('gateway', run);
