/**
 * Metering throughput benchmark (`npm run bench:usage`). Figures and method: docs/BENCHMARKS.md.
 *
 * Starts its own embedded PostgreSQL in a fresh temp folder with the normal durable settings
 * (fsync and synchronous_commit on), or, when DATABASE_URL is set, creates a throwaway database
 * `ccx_bench_<random>` on that server. Then runs the real API as a separate process
 * (`node dist/apps/api/src/main.js`, NODE_ENV=development, working directory the temp folder so
 * its schema.gql lands there, servicing and webhook timers off) on a free port of 127.0.0.1, so
 * the server's memory can be read from /proc/<pid>/status and this process only generates load.
 *
 * Over HTTP it sets up one hot buyer (a seller's listing, a deposit, a purchase of
 * 10,000,000 standard credits, a model rate card), then runs:
 *   (a) POST /v1/usage, 4 clients, batches of 500 token events (unique eventIds);
 *   (b) the GraphQL `recordUsage` mutation, 16 clients, one event each;
 *   (c) POST /v1/usage with one event per request, 16 clients.
 * (b) and (c) send through undici Pools of keep-alive connections (fetch() cost the load generator
 * ~1.3 ms of CPU per call on the server's cores); (a) uses fetch (a few µs per event).
 * Prints one JSON line per scenario and a summary line on stdout; progress goes to stderr.
 * Each scenario checks that the buyer's `creditBalance.available` moved by exactly the sum of
 * the credits its accepted events were charged (as the responses said); the summary checks the
 * whole run and the ledger's integrity.
 *
 * Environment: BENCH_SECONDS (default 20) per scenario; BENCH_ONLY=a|b|c one scenario;
 * BENCH_CPU_PROFILE=<folder> runs the API with --cpu-prof (its profile is written when it stops); DATABASE_URL to use an existing server;
 * BENCH_SERVER_LOG=1 to copy the server's standard output to stderr (its errors always are).
 * Exits non-zero only when the setup fails.
 */
import { memoryOf, startApiProcess, type Database } from '../scripts/lib/local-server.js';
import { benchLog, benchMain } from './lib/bench-main.js';
import { CpuMeter, TOKEN_MIX, percentile, positiveNumber, round } from './lib/measure.js';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Pool } from 'undici';

const SECONDS = positiveNumber(process.env.BENCH_SECONDS, 20);
/** `a` or `b`: run only that scenario (both when unset). */
const ONLY = process.env.BENCH_ONLY ?? '';
/** A folder: the API runs with `--cpu-prof` and writes its V8 profile there when it stops. */
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE || null;
/** The goals of issue 13, printed beside each figure. */
const GOALS: Record<string, string> = {
  a_rest_batch: '>= 30,000 events/s on one hot buyer (issue 13 item 1)',
  b_graphql_single: '>= 1,000 calls/s, p99 < 50 ms (issue 13 item 2)',
  c_rest_single: '>= 1,000 calls/s, p99 < 50 ms (issue 13 item 2)',
};
const BATCH_SIZE = 500;
const BATCH_CLIENTS = 4;
const GRAPHQL_CLIENTS = 16;
const CREDITS_BOUGHT = '10000000';
const MODEL = 'bench-model';
const OPERATOR_KEY = `ccx-bench-operator-${randomBytes(12).toString('hex')}`;
/** Distinguishes this run's event ids. */
const RUN = randomBytes(3).toString('hex');
const REQUEST_TIMEOUT_MS = 60_000;
const log = benchLog('usage');

/** Credits ("12.345678", scale 6) as integer micro-credits; never a float. */
function micro(text: string): bigint {
  const m = /^(-?)([0-9]+)(?:\.([0-9]{1,6}))?$/.exec(text);
  if (!m) throw new Error(`not a credit amount: ${text}`);
  const value = BigInt(m[2]) * 1_000_000n + BigInt((m[3] ?? '').padEnd(6, '0'));
  return m[1] ? -value : value;
}

function microText(value: bigint): string {
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  return `${sign}${abs / 1_000_000n}.${String(abs % 1_000_000n).padStart(6, '0')}`;
}



/**
 * Undo steps, run last-in first-out exactly once: at the end, on failure, or on a signal. Each
 * step is registered as soon as there is something to undo, so an interrupted start cleans up too.
 */
/** Set on a signal: the load loops stop and no further scenario starts. */
let stopping = false;

/** The settings the numbers depend on, straight from the database the API uses. */
async function describeDatabase(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<Record<string, string>>(
      `SELECT version() AS version, current_setting('fsync') AS fsync,
              current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('shared_buffers') AS shared_buffers, current_setting('wal_level') AS wal_level`,
    );
    const info = rows[0];
    return `${info.version}; fsync=${info.fsync} synchronous_commit=${info.synchronous_commit} ` +
      `shared_buffers=${info.shared_buffers} wal_level=${info.wal_level}`;
  } finally {
    await client.end();
  }
}


/** Samples the API's RSS every 200 ms between begin() and end(). */
class MemorySampler {
  private timer?: NodeJS.Timeout;
  private max = 0;

  constructor(private readonly pid: number) {}

  begin(): number | null {
    this.max = 0;
    const m = memoryOf(this.pid);
    if (m) this.max = m.rssMb;
    this.timer = setInterval(() => {
      const s = memoryOf(this.pid);
      if (s && s.rssMb > this.max) this.max = s.rssMb;
    }, 200);
    this.timer.unref();
    return m?.rssMb ?? null;
  }

  end(): { serverRssEndMb: number | null; serverRssMaxSampledMb: number | null } {
    clearInterval(this.timer);
    const m = memoryOf(this.pid);
    if (m && m.rssMb > this.max) this.max = m.rssMb;
    return { serverRssEndMb: m?.rssMb ?? null, serverRssMaxSampledMb: m ? this.max : null };
  }
}

/** A GraphQL client over the global fetch (undici: keep-alive connections, reused). */
class Api {
  constructor(readonly base: string) {}

  async gql<T = any>(query: string, variables: Record<string, unknown> = {}, key: string | null = null): Promise<T> {
    const res = await fetch(`${this.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (body.errors?.length || !body.data) throw new Error(`GraphQL ${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
    return body.data;
  }
}

interface Buyer {
  id: string;
  key: string;
}

/** One hot buyer with plenty of standard credits and a model rate card, all through the API. */
async function setUp(api: Api): Promise<Buyer> {
  const register = async (role: 'SELLER' | 'BUYER'): Promise<Buyer> => {
    const d = await api.gql<any>(
      `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`,
      { input: { name: `bench-${role.toLowerCase()}-${RUN}`, role } },
    );
    return { id: d.registerOrganization.organization.id, key: d.registerOrganization.apiKey };
  };
  const now = Date.now();
  const seller = await register('SELLER');
  await api.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: seller.id }, OPERATOR_KEY);
  // Twice the credits bought, so the demand multiplier stays at 1.0: 10M credits cost 120,000.00.
  await api.gql(
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`,
    {
      input: {
        gpuType: 'H100',
        region: 'us-east',
        gpuHours: String(2 * Number(CREDITS_BOUGHT)),
        wholesalePricePerGpuHour: '0.01',
        availableFrom: new Date(now - 86_400_000).toISOString(),
        availableUntil: new Date(now + 2 * 365 * 86_400_000).toISOString(),
      },
    },
    seller.key,
  );
  const buyer = await register('BUYER');
  await api.gql(
    `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
    { input: { organizationId: buyer.id, amount: '250000.00', reference: `bench-${RUN}` } },
    OPERATOR_KEY,
  );
  const bought = await api.gql<any>(
    `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { credits totalPrice block { id } } }`,
    { input: { credits: CREDITS_BOUGHT, idempotencyKey: `bench-buy-${RUN}` } },
    buyer.key,
  );
  log(`bought ${bought.purchaseCredits.credits} credits for ${bought.purchaseCredits.totalPrice}`);
  await api.gql(
    `mutation { upsertModel(input: { id: "${MODEL}", inputCreditsPerMillionTokens: "0.5", outputCreditsPerMillionTokens: "1.5" }) { id } }`,
    {},
    OPERATOR_KEY,
  );
  return buyer;
}

async function availableCredits(api: Api, buyer: Buyer): Promise<bigint> {
  const d = await api.gql<any>(`{ creditBalance { available } }`, {}, buyer.key);
  return micro(d.creditBalance.available);
}

interface Tally {
  latencies: number[];
  events: number;
  requests: number;
  rejected: number;
  duplicates: number;
  errors: number;
  acceptedMicro: bigint;
  errorKinds: Map<string, number>;
}

function newTally(): Tally {
  return { latencies: [], events: 0, requests: 0, rejected: 0, duplicates: 0, errors: 0, acceptedMicro: 0n, errorKinds: new Map() };
}

function note(t: Tally, label: string): void {
  t.errorKinds.set(label, (t.errorKinds.get(label) ?? 0) + 1);
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.name ?? 'Error'}: ${String(e?.message ?? error).slice(0, 100)}${cause ? ` (${cause})` : ''}`;
}

interface Scenario {
  scenario: string;
  run: (tally: Tally, deadline: number) => Promise<void>;
  extra: Record<string, unknown>;
}

/** Runs a scenario, then checks the buyer's balance moved by what the responses said. */
async function measure(api: Api, buyer: Buyer, cpu: CpuMeter, mem: MemorySampler, s: Scenario): Promise<{ line: Record<string, unknown>; accepted: bigint }> {
  const before = await availableCredits(api, buyer);
  const writesBefore = await ledgerWrites(api);
  const tally = newTally();
  const rssStart = mem.begin();
  cpu.begin();
  const started = performance.now();
  await s.run(tally, started + SECONDS * 1000);
  const elapsed = (performance.now() - started) / 1000;
  const cpuFigures = cpu.end();
  const memory = { serverRssStartMb: rssStart, ...mem.end() };
  let after: bigint | null = null;
  try {
    after = await availableCredits(api, buyer);
  } catch (error) {
    note(tally, `balance read: ${describe(error)}`);
  }
  const writesAfter = await ledgerWrites(api);
  tally.latencies.sort((x, y) => x - y);
  const balanceCheck = after !== null && before - after === tally.acceptedMicro;
  return {
    accepted: tally.acceptedMicro,
    line: {
      scenario: s.scenario,
      ...s.extra,
      seconds: round(elapsed),
      events: tally.events,
      eventsPerSecond: Math.round(tally.events / elapsed),
      requests: tally.requests,
      requestsPerSecond: Math.round(tally.requests / elapsed),
      p50Ms: percentile(tally.latencies, 50),
      p99Ms: percentile(tally.latencies, 99),
      errors: tally.errors,
      rejected: tally.rejected,
      duplicates: tally.duplicates,
      acceptedCredits: microText(tally.acceptedMicro),
      balanceMoved: after === null ? null : microText(before - after),
      balanceCheck,
      // Ledger transactions written per event: one per charge (a group commit of the buyer's
      // queue), so its inverse is the charges' average size.
      ledgerTransactionsPerEvent: writesBefore === null || writesAfter === null || !tally.events ? null : round((writesAfter - writesBefore) / tally.events, 4),
      ...memory,
      ...cpuFigures,
      ...(tally.errorKinds.size ? { errorKinds: Object.fromEntries(tally.errorKinds) } : {}),
    },
  };
}

/** The server's count of ledger transactions written (`ccx_ledger_transactions_total` on /metrics), or null. */
async function ledgerWrites(api: Api): Promise<number | null> {
  try {
    const text = await (await fetch(`${api.base}/metrics`)).text();
    const found = /^ccx_ledger_transactions_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/m.exec(text);
    return found ? Number(found[1]) : null;
  } catch {
    return null;
  }
}

/** (a) POST /v1/usage: `BATCH_CLIENTS` loops, each sending batches of `BATCH_SIZE` events. */
function batchScenario(api: Api, buyer: Buyer): Scenario {
  const url = `${api.base}/v1/usage`;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}` };
  // Everything but the event id is fixed per token mix: a body is a few string concatenations.
  const prefix = `{"organizationId":"${buyer.id}","eventId":"${RUN}-a`;
  const suffixes = TOKEN_MIX.map(([i, o]) => `","model":"${MODEL}","inputTokens":${i},"outputTokens":${o}}`);
  const body = (client: number, batch: number): string => {
    const parts: string[] = new Array(BATCH_SIZE);
    for (let n = 0; n < BATCH_SIZE; n++) parts[n] = `${prefix}${client}-${batch}-${n}${suffixes[(batch + n) % suffixes.length]}`;
    return `{"events":[${parts.join(',')}]}`;
  };
  return {
    scenario: 'a_rest_batch',
    extra: { clients: BATCH_CLIENTS, batchSize: BATCH_SIZE },
    run: async (tally, deadline) => {
      const client = async (c: number) => {
        let batch = 0;
        let next = body(c, batch);
        while (!stopping && performance.now() < deadline) {
          const payload = next;
          const t0 = performance.now();
          try {
            const res = await fetch(url, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
            // Build the next body while the response streams in.
            next = body(c, ++batch);
            const text = await res.text();
            const latency = performance.now() - t0;
            if (res.status !== 200) {
              tally.errors++;
              note(tally, `HTTP ${res.status}: ${text.slice(0, 100)}`);
              continue;
            }
            tally.latencies.push(latency);
            tally.requests++;
            const { results } = JSON.parse(text) as { results: { status: string; credits?: string; code?: string }[] };
            for (const r of results) {
              if (r.status === 'accepted') {
                tally.events++;
                tally.acceptedMicro += micro(r.credits!);
              } else if (r.status === 'duplicate') {
                tally.duplicates++;
              } else {
                tally.rejected++;
                note(tally, `rejected ${r.code}`);
              }
            }
          } catch (error) {
            tally.errors++;
            note(tally, describe(error));
            next = body(c, ++batch);
          }
        }
      };
      await Promise.all(Array.from({ length: BATCH_CLIENTS }, (_, c) => client(c)));
    },
  };
}

/** How a single-call scenario's answer reads: accepted or duplicate credits, or a refusal code. */
type SingleAnswer = { status: 'accepted' | 'duplicate'; credits: string } | { status: 'rejected'; code: string | undefined; detail: string };

/**
 * `GRAPHQL_CLIENTS` closed loops, one event per request, through keep-alive connections of an
 * undici Pool (fetch() cost the load generator ~1.3 ms of CPU per call, on the server's cores).
 */
function singleCallScenario(
  api: Api,
  scenario: string,
  path: string,
  body: (eventId: string, n: number) => string,
  answer: (status: number, text: string) => SingleAnswer,
): Scenario {
  const pool = new Pool(api.base, { connections: GRAPHQL_CLIENTS });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_KEY}` };
  const letter = scenario[0];
  return {
    scenario,
    extra: { clients: GRAPHQL_CLIENTS },
    run: async (tally, deadline) => {
      const client = async (c: number) => {
        for (let n = 0; !stopping && performance.now() < deadline; n++) {
          const payload = body(`${RUN}-${letter}${c}-${n}`, n);
          const t0 = performance.now();
          try {
            const res = await pool.request({ path, method: 'POST', headers, body: payload, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
            const text = await res.body.text();
            const latency = performance.now() - t0;
            const a = answer(res.statusCode, text);
            if (a.status === 'rejected') {
              if (a.code === 'INSUFFICIENT_CREDITS' || a.code === 'CREDITS_FROZEN') tally.rejected++;
              else tally.errors++;
              note(tally, `HTTP ${res.statusCode} ${a.code ?? ''}: ${a.detail.slice(0, 100)}`);
              continue;
            }
            tally.latencies.push(latency);
            tally.requests++;
            if (a.status === 'duplicate') tally.duplicates++;
            else {
              tally.events++;
              tally.acceptedMicro += micro(a.credits);
            }
          } catch (error) {
            tally.errors++;
            note(tally, describe(error));
          }
        }
      };
      await Promise.all(Array.from({ length: GRAPHQL_CLIENTS }, (_, c) => client(c)));
      await pool.close();
    },
  };
}

/** (b) GraphQL `recordUsage`, one event per request. */
function graphqlScenario(api: Api, buyer: Buyer): Scenario {
  const query = 'mutation($i: RecordUsageInput!) { recordUsage(input: $i) { eventId credits duplicate } }';
  const suffixes = TOKEN_MIX.map(([i, o]) => `","model":"${MODEL}","inputTokens":${i},"outputTokens":${o}}}}`);
  return singleCallScenario(
    api,
    'b_graphql_single',
    '/graphql',
    (eventId, n) => `{"query":"${query}","variables":{"i":{"organizationId":"${buyer.id}","eventId":"${eventId}${suffixes[n % suffixes.length]}`,
    (_status, text) => {
      const parsed = JSON.parse(text) as { data?: { recordUsage?: { credits: string; duplicate: boolean } | null }; errors?: { message: string; extensions?: { code?: string } }[] };
      const record = parsed.data?.recordUsage;
      if (parsed.errors?.length || !record) return { status: 'rejected', code: parsed.errors?.[0]?.extensions?.code, detail: String(parsed.errors?.[0]?.message ?? text) };
      return { status: record.duplicate ? 'duplicate' : 'accepted', credits: record.credits };
    },
  );
}

/** (c) POST /v1/usage with one event per request (the REST path of a gateway that does not batch). */
function restSingleScenario(api: Api, buyer: Buyer): Scenario {
  const suffixes = TOKEN_MIX.map(([i, o]) => `","model":"${MODEL}","inputTokens":${i},"outputTokens":${o}}]}`);
  return singleCallScenario(
    api,
    'c_rest_single',
    '/v1/usage',
    (eventId, n) => `{"events":[{"organizationId":"${buyer.id}","eventId":"${eventId}${suffixes[n % suffixes.length]}`,
    (status, text) => {
      const result = status === 200 ? (JSON.parse(text) as { results: { status: string; credits?: string; code?: string }[] }).results[0] : null;
      if (!result || result.status === 'rejected') return { status: 'rejected', code: result?.code, detail: text };
      return { status: result.status === 'duplicate' ? 'duplicate' : 'accepted', credits: result.credits! };
    },
  );
}

async function run(provisioned: Database): Promise<void> {
  log(`database: ${await describeDatabase(provisioned.url)}`);
  const server = await startApiProcess({
    root: provisioned.root,
    url: provisioned.url,
    operatorKey: OPERATOR_KEY,
    env: { CCX_SERVICING_INTERVAL_MS: '0', CCX_WEBHOOK_INTERVAL_MS: '0' },
    log,
    nodeArgs: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
  });
  const booted = memoryOf(server.pid);
  log(`API pid ${server.pid} ready; RSS ${booted?.rssMb ?? '?'} MiB; ${SECONDS} s per scenario`);
  const api = new Api(server.base);

  log('setting up the hot buyer through GraphQL');
  const buyer = await setUp(api);
  const start = await availableCredits(api, buyer);
  const afterSetup = memoryOf(server.pid);

  // From here on, a failure is reported in the output rather than failing the run.
  const cpu = new CpuMeter('cpuLoadGeneratorPct', provisioned.postmasterPidFile, { cpuApiPct: server.pid });
  const mem = new MemorySampler(server.pid);
  const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const results: Record<string, unknown>[] = [];
  let accepted = 0n;
  const scenarios = [batchScenario(api, buyer), graphqlScenario(api, buyer), restSingleScenario(api, buyer)].filter((s) => !ONLY || s.scenario.startsWith(`${ONLY}_`));
  for (const scenario of scenarios) {
    if (stopping) return;
    log(`(${scenario.scenario}) ${JSON.stringify(scenario.extra)}`);
    const r = await measure(api, buyer, cpu, mem, scenario);
    if (stopping) return;
    accepted += r.accepted;
    const line = { ...r.line, goal: GOALS[scenario.scenario] };
    results.push(line);
    emit(line);
  }

  let end: bigint | null = null;
  try {
    end = await availableCredits(api, buyer);
  } catch (error) {
    log(`reading the final balance failed: ${describe(error)}`);
  }
  let ledger: { balanced: boolean | null; problems?: string[]; verifyMs?: number } = { balanced: null };
  try {
    const t0 = performance.now();
    const d = await api.gql<any>(`{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY);
    ledger = { balanced: d.ledgerIntegrity.balanced, problems: d.ledgerIntegrity.problems, verifyMs: Math.round(performance.now() - t0) };
  } catch (error) {
    log(`ledgerIntegrity failed: ${describe(error)}`);
  }
  const final = memoryOf(server.pid);
  const byName = (name: string) => results.find((r) => r.scenario === name);
  emit({
    summary: true,
    seconds: SECONDS,
    batchEventsPerSecond: byName('a_rest_batch')?.eventsPerSecond ?? null,
    graphqlEventsPerSecond: byName('b_graphql_single')?.eventsPerSecond ?? null,
    restSingleEventsPerSecond: byName('c_rest_single')?.eventsPerSecond ?? null,
    errors: results.reduce((n, r) => n + Number(r.errors ?? 0), 0),
    serverPeakRssMb: final?.peakMb ?? null,
    serverRssAfterBootMb: booted?.rssMb ?? null,
    serverRssBeforeLoadMb: afterSetup?.rssMb ?? null,
    serverRssEndMb: final?.rssMb ?? null,
    creditsBefore: microText(start),
    creditsAfter: end === null ? null : microText(end),
    acceptedCredits: microText(accepted),
    balanceCheck: end !== null && start - end === accepted && results.every((r) => r.balanceCheck === true),
    ledgerBalanced: ledger.balanced,
    ...(ledger.problems?.length ? { ledgerProblems: ledger.problems.slice(0, 5) } : {}),
    ledgerVerifyMs: ledger.verifyMs ?? null,
    serverExited: server.exited(),
  });
  // Each figure beside its goal (stderr: stdout stays one JSON line per scenario and a summary).
  const a = byName('a_rest_batch');
  const b = byName('b_graphql_single');
  if (a) log(`(a) batch: ${a.eventsPerSecond} events/s (p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms per batch of ${BATCH_SIZE}); goal ${GOALS.a_rest_batch}: ${Number(a.eventsPerSecond) >= 30_000 ? 'met' : 'missed'}`);
  for (const [label, line] of [['(b) single, GraphQL', b], ['(c) single, REST', byName('c_rest_single')]] as const) {
    if (line) log(`${label}: ${line.eventsPerSecond} calls/s, p99 ${line.p99Ms} ms (p50 ${line.p50Ms}); goal ${GOALS.b_graphql_single}: ${Number(line.eventsPerSecond) >= 1000 && Number(line.p99Ms) < 50 ? 'met' : 'missed'}`);
  }
  log(`server peak RSS ${final?.peakMb ?? '?'} MiB; goal < 512 MiB: ${(final?.peakMb ?? Infinity) < 512 ? 'met' : 'missed'}`);
  log(`credits moved by exactly the accepted events: ${end !== null && start - end === accepted ? 'yes' : 'NO'}; ledger balanced: ${String(ledger.balanced)}`);
}

benchMain('usage', run);
