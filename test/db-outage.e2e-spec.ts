import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../apps/api/src/database/embedded-postgres.js';
import {
  builtServer,
  call,
  gqlCall,
  gqlOk,
  LEAK,
  ownEmbeddedDatabase,
  pollUntil,
  registerOrg,
  startServerProcess,
  tempRoot,
  type Answer,
  type OwnedDatabase,
  type Org,
  type ServerProcess,
} from './support/server-process.js';

/**
 * Database outage (SPEC §11 SERVICE_UNAVAILABLE): the real server (`node dist/apps/api/src/main.js`)
 * under a small load while its PostgreSQL is stopped and started again. While the database is
 * down every request fails fast and cleanly (GraphQL: SERVICE_UNAVAILABLE, 200 or 503; REST: 503
 * SERVICE_UNAVAILABLE; /health and /health/ready: 503), nothing leaks, the process stays up;
 * when the database is back, service resumes by itself, without a restart.
 *
 * The test always owns the database it stops: an embedded PostgreSQL of its own, even when
 * DATABASE_URL names a shared server (that one must not be stopped).
 */

const OPERATOR_KEY = `ccx-outage-operator-${randomBytes(12).toString('hex')}`;
const CLOCK_START = '2026-01-05T12:00:00.000Z';
const RUN = randomBytes(3).toString('hex');
const MODEL = 'outage-model';
/** The pool's connectionTimeoutMillis is 5 s: no answer may take longer than this. */
const FAIL_FAST_MS = 6_000;
const LOAD_CLIENTS = 3;
/** Pause between two requests of one load client (pacing, not synchronization). */
const LOAD_PAUSE_MS = 20;
const SERVER_ENV = {
  NODE_ENV: 'test',
  CCX_OPERATOR_KEY: OPERATOR_KEY,
  CCX_TEST_CLOCK: 'true',
  CCX_CLOCK_START: CLOCK_START,
  // The background workers keep running through the outage: their failures must not end the process.
  CCX_SERVICING_INTERVAL_MS: '500',
  CCX_WEBHOOK_INTERVAL_MS: '200',
};

type Kind = 'gql-read' | 'gql-public' | 'gql-usage' | 'gql-purchase' | 'rest-usage';
const KINDS: Kind[] = ['gql-read', 'gql-public', 'gql-usage', 'gql-purchase', 'rest-usage'];

interface Sample {
  kind: Kind;
  sentAt: number;
  doneAt: number;
  /** The answer; null when the request itself failed (no HTTP answer). */
  answer: Answer | null;
  error?: string;
  /** What it carried, for the reconciliation at the end. */
  eventIds?: string[];
  purchaseKey?: string;
}

const isGraphql = (k: Kind) => k.startsWith('gql');

/** Succeeded: GraphQL 200 with data and no errors; REST 200 with one accepted result per event. */
function succeeded(s: Sample): boolean {
  const a = s.answer;
  if (!a || a.status !== 200) return false;
  if (isGraphql(s.kind)) return !a.body?.errors && !!a.body?.data;
  return Array.isArray(a.body?.results) && a.body.results.every((r: any) => r.status === 'accepted');
}

/**
 * Failed the documented way: GraphQL every error SERVICE_UNAVAILABLE, with 200 (raised while the
 * operation ran) or 503 (a keyed request, answered before GraphQL because its key could not be
 * looked up); REST 503 SERVICE_UNAVAILABLE.
 */
function unavailable(s: Sample): boolean {
  const a = s.answer;
  if (!a) return false;
  if (isGraphql(s.kind)) {
    const errors = a.body?.errors;
    return (a.status === 200 || a.status === 503) && Array.isArray(errors) && errors.length > 0 && errors.every((e: any) => e?.extensions?.code === 'SERVICE_UNAVAILABLE');
  }
  return a.status === 503 && a.body?.error?.code === 'SERVICE_UNAVAILABLE' && typeof a.body.error.message === 'string';
}

let root: string;
let mainJs: string;
let db: OwnedDatabase;
/** The running embedded server (replaced when the test starts it again). */
let embedded: EmbeddedDatabase | null = null;
let server: ServerProcess | null = null;

beforeAll(async () => {
  root = await tempRoot('ccx-outage-');
  mainJs = await builtServer(root);
  db = await ownEmbeddedDatabase(root);
  embedded = db.embedded;
}, 300_000);

afterAll(async () => {
  await server?.stop(5_000);
  await embedded?.stop().catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

it('fails fast with SERVICE_UNAVAILABLE while the database is down, and recovers by itself', async () => {
  server = await startServerProcess({ mainJs, cwd: root, databaseUrl: db.url, env: SERVER_ENV });
  const base = server.base;
  const pid = server.pid;

  // ---- setup through the API ----
  const seller = await registerOrg(base, 'SELLER', OPERATOR_KEY);
  await gqlOk(
    base,
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`,
    { input: { gpuType: 'H100', region: 'us-east', gpuHours: '1000000', wholesalePricePerGpuHour: '0.01', availableFrom: '2026-01-01T00:00:00Z', availableUntil: '2027-12-31T00:00:00Z' } },
    seller.key,
  );
  const buyer: Org = await registerOrg(base, 'BUYER', OPERATOR_KEY);
  await gqlOk(base, `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`, { input: { organizationId: buyer.id, amount: '1000.00', reference: `outage-${RUN}` } }, OPERATOR_KEY);
  await gqlOk(base, `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id } }`, { input: { credits: '5000', idempotencyKey: `setup-${RUN}` } }, buyer.key);
  await gqlOk(base, `mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`, { input: { id: MODEL, inputCreditsPerMillionTokens: '100', outputCreditsPerMillionTokens: '300' } }, OPERATOR_KEY);

  // ---- the load: a few clients looping over reads, writes, GraphQL and REST ----
  const samples: Sample[] = [];
  let seq = 0;
  let loading = true;
  const event = () => ({ organizationId: buyer.id, eventId: `${RUN}-${seq++}`, model: MODEL, inputTokens: 1000, outputTokens: 10 });
  const once = async (kind: Kind): Promise<void> => {
    const sample: Sample = { kind, sentAt: performance.now(), doneAt: 0, answer: null };
    try {
      // A generous client timeout: the fail-fast bound is asserted on the measured time, not enforced here.
      const timeoutMs = 30_000;
      if (kind === 'gql-read') sample.answer = await gqlCall(base, `{ creditBalance { available } wallet { available } }`, {}, buyer.key, timeoutMs);
      else if (kind === 'gql-public') sample.answer = await gqlCall(base, `{ gpuTypes { name } listings(first: 5) { totalCount } }`, {}, null, timeoutMs);
      else if (kind === 'gql-usage') {
        const e = event();
        sample.eventIds = [e.eventId];
        sample.answer = await gqlCall(base, `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { eventId credits duplicate } }`, { input: e }, OPERATOR_KEY, timeoutMs);
      } else if (kind === 'gql-purchase') {
        sample.purchaseKey = `outage-${RUN}-${seq++}`;
        sample.answer = await gqlCall(base, `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id totalPrice } }`, { input: { credits: '1', idempotencyKey: sample.purchaseKey } }, buyer.key, timeoutMs);
      } else {
        const events = [event(), event(), event()];
        sample.eventIds = events.map((e) => e.eventId);
        sample.answer = await call(base, '/v1/usage', { body: { events }, key: OPERATOR_KEY, timeoutMs });
      }
    } catch (error) {
      sample.error = error instanceof Error ? `${error.name}: ${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error);
    }
    sample.doneAt = performance.now();
    samples.push(sample);
  };
  const loadClient = async (c: number) => {
    for (let n = c; loading; n++) {
      await once(KINDS[n % KINDS.length]);
      await new Promise((r) => setTimeout(r, LOAD_PAUSE_MS));
    }
  };
  const load = Promise.all(Array.from({ length: LOAD_CLIENTS }, (_, c) => loadClient(c)));
  const answeredSince = (t: number, kind?: Kind) => samples.filter((s) => s.sentAt >= t && (!kind || s.kind === kind));

  try {
    // Up: everything works.
    const t0 = performance.now();
    await pollUntil('every kind of request to succeed once with the database up', () => KINDS.every((k) => answeredSince(t0, k).some(succeeded)), 20_000);

    // ---- stop the database under load ----
    const stopBegin = performance.now();
    await embedded!.stop();
    embedded = null;
    const stopEnd = performance.now();

    // Down: wait until every kind has been answered several times with the database gone.
    await pollUntil('every kind of request to be answered 3 times while the database is down', () => KINDS.every((k) => answeredSince(stopEnd, k).length >= 3), 30_000);
    const health = await call(base, '/health', { timeoutMs: 30_000 });
    const ready = await call(base, '/health/ready', { timeoutMs: 30_000 });
    // 503 either from the health controller itself ({status, database: 'down'}) or, with the test
    // clock, from the global ClockRefreshInterceptor, which reads the clock row before any handler
    // runs and so answers for /health too (the REST error body of SPEC §11).
    const healthDown = (a: Answer) => a.status === 503 && (a.body?.database === 'down' || a.body?.error?.code === 'SERVICE_UNAVAILABLE');
    expect([health.status, health.text, healthDown(health)]).toEqual([503, health.text, true]);
    expect([ready.status, ready.text, healthDown(ready)]).toEqual([503, ready.text, true]);
    expect(health.ms).toBeLessThan(FAIL_FAST_MS);
    expect(ready.ms).toBeLessThan(FAIL_FAST_MS);
    expect(server.exited()).toBe(false);
    process.kill(pid, 0); // throws if the process is gone

    // ---- start it again: same folder, same port ----
    const startBegin = performance.now();
    embedded = await startEmbeddedPostgres({ dataDir: db.dataDir!, port: db.port! });
    const startEnd = performance.now();
    expect(embedded.url).toBe(db.url);

    // The server notices by itself: /health turns 200 without a restart.
    await pollUntil(
      '/health to answer 200 again',
      async () => (await call(base, '/health', { timeoutMs: 5_000 })).status === 200,
      30_000,
      100,
    );
    const healthyAt = performance.now();
    // …and the load gets through again, every kind of request.
    await pollUntil('every kind of request to succeed again', () => KINDS.every((k) => answeredSince(healthyAt, k).some(succeeded)), 30_000);

    loading = false;
    await load;

    // ---- what the load saw ----
    const down = samples.filter((s) => s.sentAt >= stopEnd && s.doneAt <= startBegin);
    const report = {
      requests: samples.length,
      whileDown: down.length,
      stopMs: Math.round(stopEnd - stopBegin),
      startMs: Math.round(startEnd - startBegin),
      recoveredAfterStartMs: Math.round(healthyAt - startEnd),
      maxMsWhileDown: Math.round(Math.max(...down.map((s) => s.doneAt - s.sentAt))),
      maxMsOverall: Math.round(Math.max(...samples.map((s) => s.doneAt - s.sentAt))),
      healthDownMs: Math.round(health.ms),
      readyDownMs: Math.round(ready.ms),
    };
    console.log(`db-outage: ${JSON.stringify(report)}`);

    // Every request got an HTTP answer, fast.
    expect(samples.filter((s) => !s.answer).map((s) => `${s.kind}: ${s.error}`)).toEqual([]);
    const slow = samples.filter((s) => s.doneAt - s.sentAt >= FAIL_FAST_MS).map((s) => `${s.kind} ${Math.round(s.doneAt - s.sentAt)} ms: ${s.answer?.text.slice(0, 200)}`);
    expect(slow).toEqual([]);
    // While the database was down, every answer was the documented failure.
    expect(down.length).toBeGreaterThanOrEqual(3 * KINDS.length);
    const wrongWhileDown = down.filter((s) => !unavailable(s)).map((s) => `${s.kind} ${s.answer?.status}: ${s.answer?.text.slice(0, 300)}`);
    expect(wrongWhileDown).toEqual([]);
    // Around the transitions a request may succeed or fail, but only in one of those two ways.
    const neither = samples.filter((s) => !succeeded(s) && !unavailable(s)).map((s) => `${s.kind} ${s.answer?.status}: ${s.answer?.text.slice(0, 300)}`);
    expect(neither).toEqual([]);
    // No answer leaks a stack trace, SQL or driver internals.
    const leaks = samples.filter((s) => LEAK.test(s.answer?.text ?? '')).map((s) => s.answer!.text.slice(0, 300));
    expect(leaks).toEqual([]);
    expect(LEAK.test(health.text) || LEAK.test(ready.text)).toBe(false);

    // ---- after the recovery: the same process serves writes, and the books are consistent ----
    expect(server.exited()).toBe(false);
    expect(server.pid).toBe(pid);
    const bought = await gqlOk(base, `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id credits } }`, { input: { credits: '2', idempotencyKey: `after-${RUN}` } }, buyer.key);
    expect(bought.purchaseCredits.credits).toBe('2.000000');
    const usage = await call(base, '/v1/usage', { body: { events: [event()] }, key: OPERATOR_KEY });
    expect(usage.status).toBe(200);
    expect(usage.body.results[0]).toMatchObject({ status: 'accepted', credits: '0.103000' });
    expect((await call(base, '/health/ready')).status).toBe(200);
    const integrity = await gqlOk(base, `{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY);
    expect(integrity.ledgerIntegrity).toEqual({ balanced: true, problems: [] });

    // Whatever was acknowledged is stored; what the buyer consumed is exactly what usage_events charged.
    const client = new pg.Client({ connectionString: db.url });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const stored = new Set((await client.query(`SELECT event_id FROM usage_events WHERE organization_id = $1`, [buyer.id])).rows.map((r) => r.event_id));
      const ackedEvents = samples.filter((s) => s.eventIds && succeeded(s)).flatMap((s) => s.eventIds!);
      expect(ackedEvents.filter((id) => !stored.has(id))).toEqual([]);
      const storedKeys = new Set((await client.query(`SELECT idempotency_key FROM purchases WHERE buyer_id = $1`, [buyer.id])).rows.map((r) => r.idempotency_key));
      const ackedKeys = samples.filter((s) => s.purchaseKey && succeeded(s)).map((s) => s.purchaseKey!);
      expect(ackedKeys.filter((k) => !storedKeys.has(k))).toEqual([]);
      const [{ charged }] = (await client.query(`SELECT coalesce(sum(credits), 0)::numeric(30, 6)::text AS charged FROM usage_events WHERE organization_id = $1`, [buyer.id])).rows;
      const balance = await gqlOk(base, `{ creditBalance { blocks { granted remaining } } }`, {}, buyer.key);
      const [{ consumed }] = (
        await client.query(`SELECT coalesce(sum(g - r), 0)::numeric(30, 6)::text AS consumed FROM unnest($1::numeric[], $2::numeric[]) AS x(g, r)`, [
          balance.creditBalance.blocks.map((b: any) => b.granted),
          balance.creditBalance.blocks.map((b: any) => b.remaining),
        ])
      ).rows;
      expect(consumed).toBe(charged);
      const [orphans] = (
        await client.query(
          `SELECT (SELECT count(*)::int FROM ledger_transactions t LEFT JOIN usage_events e ON e.ledger_transaction_id = t.id WHERE t.kind = 'usage' AND e.id IS NULL) AS usage_tx_without_event,
                  (SELECT count(*)::int FROM ledger_transactions t LEFT JOIN purchases p ON p.ledger_transaction_id = t.id WHERE t.kind = 'purchase.standard' AND p.id IS NULL) AS purchase_tx_without_purchase`,
        )
      ).rows;
      expect(orphans).toEqual({ usage_tx_without_event: 0, purchase_tx_without_purchase: 0 });
    } finally {
      await client.end();
    }
  } finally {
    loading = false;
    await load;
  }
}, 240_000);

/**
 * Issue 12 item 9: the rate limiter looks every key up before the request runs. A lookup that
 * fails because the database is gone must not turn the caller into an anonymous one (whose
 * per-address bucket a burst of callers behind one address empties in a moment): an outage is
 * SERVICE_UNAVAILABLE (HTTP 503), never RATE_LIMITED — the operator's requests included.
 */
it('answers SERVICE_UNAVAILABLE, never RATE_LIMITED, to keyed callers while the database is down', async () => {
  if (!embedded) embedded = await startEmbeddedPostgres({ dataDir: db.dataDir!, port: db.port! });
  // A per-address bucket of 2: before the fix, the third keyed request of the outage was refused.
  const limited = await startServerProcess({
    mainJs,
    cwd: root,
    databaseUrl: db.url,
    env: { NODE_ENV: 'test', CCX_OPERATOR_KEY: OPERATOR_KEY, CCX_RATE_LIMIT_PER_IP: '60', CCX_RATE_LIMIT_PER_IP_BURST: '2', CCX_WEBHOOK_INTERVAL_MS: '0' },
  });
  try {
    const buyer = await registerOrg(limited.base, 'BUYER', OPERATOR_KEY);
    await embedded!.stop();
    embedded = null;

    const burst = 20;
    const answers = await Promise.all(
      Array.from({ length: burst }, (_, i) => {
        const key = i % 2 === 0 ? OPERATOR_KEY : buyer.key;
        return i % 4 < 2
          ? gqlCall(limited.base, `{ me { id } }`, {}, key, 30_000)
          : call(limited.base, '/v1/usage', { body: { events: [{ organizationId: buyer.id, eventId: `burst-${RUN}-${i}`, model: MODEL, inputTokens: 1 }] }, key, timeoutMs: 30_000 });
      }),
    );
    const codes = answers.map((a) => ({ status: a.status, code: a.body?.errors?.[0]?.extensions?.code ?? a.body?.error?.code }));
    expect(codes.filter((c) => c.status === 429 || c.code === 'RATE_LIMITED')).toEqual([]);
    expect(codes).toEqual(Array.from({ length: burst }, () => ({ status: 503, code: 'SERVICE_UNAVAILABLE' })));
    // The limiter answers before GraphQL runs, so /graphql gets an HTTP status too; no internals either way.
    expect(answers.filter((a) => LEAK.test(a.text)).map((a) => a.text)).toEqual([]);
  } finally {
    await limited.stop(5_000);
    if (!embedded) embedded = await startEmbeddedPostgres({ dataDir: db.dataDir!, port: db.port! });
  }
}, 180_000);
