import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { startReceiver, type WebhookReceiver } from './support/webhooks.js';
import {
  builtServer,
  call,
  gqlCall,
  gqlOk,
  ownDatabase,
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
 * Crash safety (SPEC §8, §10): the real server (`node dist/apps/api/src/main.js`) is killed with
 * SIGKILL while usage batches and purchases are in flight. Restarted on the same database, with
 * every request sent again under the same event ids / idempotency keys, the result must be as if
 * each request had run exactly once: nothing lost that was acknowledged, nothing charged twice,
 * nothing half-written, and the webhook outbox delivers what was pending at the crash.
 */

const OPERATOR_KEY = `ccx-crash-operator-${randomBytes(12).toString('hex')}`;
const CLOCK_START = '2026-01-05T12:00:00.000Z';
const RUN = randomBytes(3).toString('hex');
const MODEL = 'crash-model';
/** Rate card: credits per million tokens. Fractions, so that rounding UP to micro-credits matters. */
const IN_RATE = '100.5';
const OUT_RATE = '300.25';
const BATCHES = 40;
const BATCH_SIZE = 100;
const PURCHASES = 20;
/** Standard credits bought in the setup, before the load. */
const SETUP_CREDITS = 5000n;
/**
 * The low-balance threshold sits 20 credits under the setup balance. Every batch costs at least
 * ~61 credits and all purchases together add 30, so the first usage batch to commit crosses it
 * (before ≥ threshold, after < threshold) and no later change can bring the balance back above
 * it: exactly one LOW_BALANCE alert, whatever the interleaving.
 */
const THRESHOLD = SETUP_CREDITS - 20n;
/** Usage batches acknowledged before the kill; the second wave of purchases goes out one earlier. */
const KILL_AFTER_ACKS = 10;
/** [inputTokens, outputTokens], cycled through by the events. */
const TOKEN_MIX: [number, number][] = [
  [1000, 500],
  [31000, 2048],
  [1, 0],
  [12, 3],
  [0, 7],
  [4096, 37],
  [250, 1200],
  [800, 800],
];
const SERVER_ENV = {
  NODE_ENV: 'test',
  CCX_OPERATOR_KEY: OPERATOR_KEY,
  CCX_TEST_CLOCK: 'true',
  CCX_CLOCK_START: CLOCK_START,
  CCX_SERVICING_INTERVAL_MS: '0',
  CCX_WEBHOOK_INTERVAL_MS: '200',
};

// --- independent arithmetic: credits as integer micro-credits (bigint), never floats ---------

function micro(text: string): bigint {
  const m = /^([0-9]+)(?:\.([0-9]{1,6}))?$/.exec(text);
  if (!m) throw new Error(`not a credit amount: ${text}`);
  return BigInt(m[1]) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

function microText(v: bigint): string {
  return `${v / 1_000_000n}.${String(v % 1_000_000n).padStart(6, '0')}`;
}

function cents(text: string): bigint {
  const m = /^([0-9]+)\.([0-9]{2})$/.exec(text);
  if (!m) throw new Error(`not a USD amount: ${text}`);
  return BigInt(m[1]) * 100n + BigInt(m[2]);
}

/** SPEC §8: in × rateIn ÷ 10^6 + out × rateOut ÷ 10^6 credits, rounded UP to 6 decimals. */
function expectedCost(inputTokens: number, outputTokens: number): bigint {
  // Rates × 100 are whole numbers: 10050 and 30025. The cost in micro-credits is (i×10050 + o×30025) ÷ 100, rounded up.
  const hundredths = BigInt(inputTokens) * 10050n + BigInt(outputTokens) * 30025n;
  return (hundredths + 99n) / 100n;
}

// --- the load -----------------------------------------------------------------------------------

interface UsageEvent {
  organizationId: string;
  eventId: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

interface UsageResult {
  eventId: string;
  status: 'accepted' | 'duplicate' | 'rejected';
  credits?: string;
  code?: string;
}

interface Sent<T> {
  /** The answer, when one came back. */
  answer?: Answer<T>;
  /** Why no answer came back. */
  error?: string;
}

interface UsageBatch {
  index: number;
  events: UsageEvent[];
  expected: bigint[];
  first: Sent<{ results: UsageResult[] }>;
  second: Sent<{ results: UsageResult[] }>;
}

interface PurchaseRequest {
  index: number;
  key: string;
  credits: string;
  first: Sent<any>;
  second: Sent<any>;
}

const PURCHASE = `mutation($input: PurchaseCreditsInput!) {
  purchaseCredits(input: $input) { id type credits unitPrice totalPrice block { id type granted } } }`;

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}${e?.cause ? ` (${e.cause.code ?? e.cause.message})` : ''}`;
}

function usageAcked(b: UsageBatch): boolean {
  return b.first.answer?.status === 200 && Array.isArray(b.first.answer.body?.results);
}

function purchaseAcked(p: PurchaseRequest): boolean {
  return p.first.answer?.status === 200 && !!p.first.answer.body?.data?.purchaseCredits;
}

const sumOf = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);

let root: string;
let db: OwnedDatabase;
let pool: pg.Pool;
let mainJs: string;
let receiver: WebhookReceiver;
let receiverStatus = 500;
let server: ServerProcess | null = null;

beforeAll(async () => {
  root = await tempRoot('ccx-crash-');
  mainJs = await builtServer(root);
  db = await ownDatabase(root, 'crash');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on('error', () => undefined); // an idle client losing its server is not this test's failure
  receiver = await startReceiver(() => receiverStatus);
}, 300_000);

afterAll(async () => {
  await server?.stop(5_000);
  await receiver?.close();
  await pool?.end().catch(() => undefined);
  await db?.drop().catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

it('SIGKILL under load, restart, resend everything: each request took effect exactly once', async () => {
  const start = () => startServerProcess({ mainJs, cwd: root, databaseUrl: db.url, env: SERVER_ENV });
  server = await start();
  const base1 = server.base;

  // ---- setup through the API ----
  const seller = await registerOrg(base1, 'SELLER', OPERATOR_KEY);
  await gqlOk(
    base1,
    `mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`,
    { input: { gpuType: 'H100', region: 'us-east', gpuHours: '1000000', wholesalePricePerGpuHour: '0.01', availableFrom: '2026-01-01T00:00:00Z', availableUntil: '2027-12-31T00:00:00Z' } },
    seller.key,
  );
  const buyer: Org = await registerOrg(base1, 'BUYER', OPERATOR_KEY);
  await gqlOk(base1, `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`, { input: { organizationId: buyer.id, amount: '1000.00', reference: `crash-${RUN}` } }, OPERATOR_KEY);
  await gqlOk(base1, PURCHASE, { input: { credits: String(SETUP_CREDITS), idempotencyKey: `setup-${RUN}` } }, buyer.key);
  await gqlOk(base1, `mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`, { input: { id: MODEL, inputCreditsPerMillionTokens: IN_RATE, outputCreditsPerMillionTokens: OUT_RATE } }, OPERATOR_KEY);
  await gqlOk(base1, `mutation($input: BalanceSettingsInput!) { updateBalanceSettings(input: $input) { webhookUrl } }`, { input: { lowBalanceThreshold: String(THRESHOLD), webhookUrl: receiver.url } }, buyer.key);
  const walletBefore = cents((await gqlOk(base1, `{ wallet { available } }`, {}, buyer.key)).wallet.available);
  const creditsBefore = micro((await gqlOk(base1, `{ creditBalance { available } }`, {}, buyer.key)).creditBalance.available);
  expect(creditsBefore).toBe(SETUP_CREDITS * 1_000_000n);

  // ---- the requests ----
  const batches: UsageBatch[] = Array.from({ length: BATCHES }, (_, b) => {
    const events = Array.from({ length: BATCH_SIZE }, (_, n) => {
      const [inputTokens, outputTokens] = TOKEN_MIX[(b + n) % TOKEN_MIX.length];
      return { organizationId: buyer.id, eventId: `${RUN}-b${b}-e${n}`, model: MODEL, inputTokens, outputTokens };
    });
    return { index: b, events, expected: events.map((e) => expectedCost(e.inputTokens, e.outputTokens)), first: {}, second: {} };
  });
  const purchases: PurchaseRequest[] = Array.from({ length: PURCHASES }, (_, p) => ({
    index: p,
    key: `crash-${RUN}-p${p}`,
    credits: microText(1_000_000n + BigInt(p % 5) * 250_000n),
    first: {},
    second: {},
  }));
  const allEventIds = batches.flatMap((b) => b.events.map((e) => e.eventId));
  const totalUsage = sumOf(batches.flatMap((b) => b.expected));
  const totalPurchased = sumOf(purchases.map((p) => micro(p.credits)));
  // The threshold reasoning above, checked.
  expect(totalPurchased).toBe(30_000_000n);
  for (const b of batches) expect(sumOf(b.expected)).toBeGreaterThan(totalPurchased + 20_000_000n);
  expect(totalUsage).toBeLessThan(SETUP_CREDITS * 1_000_000n);

  const sendUsage = (base: string, b: UsageBatch, slot: 'first' | 'second') =>
    call<{ results: UsageResult[] }>(base, '/v1/usage', { body: { events: b.events }, key: OPERATOR_KEY }).then(
      (answer) => {
        b[slot] = { answer };
      },
      (error) => {
        b[slot] = { error: describeError(error) };
      },
    );
  const sendPurchase = (base: string, p: PurchaseRequest, slot: 'first' | 'second', key: string) =>
    gqlCall(base, PURCHASE, { input: { credits: p.credits, idempotencyKey: p.key } }, key).then(
      (answer) => {
        p[slot] = { answer };
      },
      (error) => {
        p[slot] = { error: describeError(error) };
      },
    );

  // ---- the crash: fire everything, SIGKILL as soon as KILL_AFTER_ACKS batches are acknowledged ----
  const victim = server;
  let acks = 0;
  let killedAt = 0;
  const wave1 = purchases.slice(0, PURCHASES / 2);
  const wave2 = purchases.slice(PURCHASES / 2);
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    const b = batches[i];
    inFlight.push(
      sendUsage(base1, b, 'first').then(() => {
        if (!usageAcked(b)) return;
        acks++;
        if (acks === KILL_AFTER_ACKS - 1) for (const p of wave2) inFlight.push(sendPurchase(base1, p, 'first', buyer.key));
        if (acks === KILL_AFTER_ACKS && !killedAt) {
          // At once, or a moment later, so that over many runs the kill also lands inside or
          // right after a commit whose answer never leaves (committed, not acknowledged).
          killedAt = performance.now();
          setTimeout(() => process.kill(victim.pid, 'SIGKILL'), Math.floor(Math.random() * 150));
        }
      }),
    );
    if (i < wave1.length) inFlight.push(sendPurchase(base1, wave1[i], 'first', buyer.key));
  }
  // Every request settles (answered, or failed when the process died), then the process is gone.
  await pollUntil('every first request to settle', async () => {
    const n = inFlight.length;
    await Promise.all(inFlight);
    return inFlight.length === n;
  }, 120_000);
  expect(killedAt).toBeGreaterThan(0);
  expect(await victim.exit).toEqual({ code: null, signal: 'SIGKILL' });
  server = null;

  const ackedBatches = batches.filter(usageAcked);
  const ackedPurchases = purchases.filter(purchaseAcked);
  const report = {
    killAfterMs: Math.round(killedAt - t0),
    usageAcked: ackedBatches.length,
    usageUnanswered: batches.filter((b) => !b.first.answer).length,
    purchasesAcked: ackedPurchases.length,
    purchasesUnanswered: purchases.filter((p) => !p.first.answer).length,
    receiverHitsBeforeCrash: receiver.received.length,
  };
  // The kill really happened mid-load.
  expect(report.usageAcked).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
  expect(report.usageUnanswered).toBeGreaterThan(0);
  // Whatever was answered before the kill was a success: nothing failed for another reason.
  for (const b of batches.filter((x) => x.first.answer)) {
    expect(b.first.answer!.status).toBe(200);
    expect(b.first.answer!.body.results.map((r: UsageResult) => r.status)).toEqual(b.events.map(() => 'accepted'));
    expect(b.first.answer!.body.results.map((r: UsageResult) => micro(r.credits!))).toEqual(b.expected);
  }
  for (const p of purchases.filter((x) => x.first.answer)) {
    expect({ status: p.first.answer!.status, errors: p.first.answer!.body?.errors }).toEqual({ status: 200, errors: undefined });
  }

  // ---- the database at the crash point: every request is there completely or not at all ----
  const q = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;
  const stored = new Map<string, bigint>(
    (await q(`SELECT event_id, credits::text AS credits FROM usage_events WHERE organization_id = $1`, [buyer.id])).map((r) => [r.event_id, micro(r.credits)]),
  );
  const committedAtCrash = new Set<number>();
  for (const b of batches) {
    const present = b.events.filter((e) => stored.has(e.eventId)).length;
    expect([b.index, present === 0 || present === BATCH_SIZE]).toEqual([b.index, true]);
    if (present) committedAtCrash.add(b.index);
    if (usageAcked(b)) expect(b.events.map((e) => stored.get(e.eventId))).toEqual(b.expected);
  }
  const purchaseRowsAtCrash = await q(`SELECT idempotency_key FROM purchases WHERE buyer_id = $1 AND idempotency_key LIKE $2`, [buyer.id, `crash-${RUN}-p%`]);
  for (const p of ackedPurchases) expect(purchaseRowsAtCrash.map((r) => r.idempotency_key)).toContain(p.key);
  await expectNothingHalfWritten(q, buyer.id);
  const pendingAtCrash: string[] = (
    await q(`SELECT id FROM webhook_deliveries WHERE organization_id = $1 AND delivered_at IS NULL AND failed_at IS NULL ORDER BY id`, [buyer.id])
  ).map((r) => r.id);
  // The first committed batch crossed the threshold; its delivery is waiting (the receiver said 500).
  expect(pendingAtCrash).toHaveLength(1);
  expect(receiver.received.every((h) => h.status === 500)).toBe(true);
  // Stands in for time passing while the server is down: the retry backoff (2 s, 4 s, …) or the
  // 60 s lease of a delivery the killed process had claimed would otherwise delay the next attempt.
  await q(`UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = ANY($1::uuid[])`, [pendingAtCrash]);

  // ---- restart on the same database; the receiver now accepts; resend EVERYTHING ----
  receiverStatus = 200;
  const hitsBeforeRestart = receiver.received.length;
  server = await start();
  const base2 = server.base;
  await Promise.all([...batches.map((b) => sendUsage(base2, b, 'second')), ...purchases.map((p) => sendPurchase(base2, p, 'second', buyer.key))]);

  for (const b of batches) {
    const answer = b.second.answer;
    expect([b.index, answer?.status, b.second.error]).toEqual([b.index, 200, undefined]);
    const results: UsageResult[] = answer!.body.results;
    expect(results.map((r) => r.eventId)).toEqual(b.events.map((e) => e.eventId));
    // Same charge as the first time, whether it is charged now or was before the crash.
    expect(results.map((r) => micro(r.credits!))).toEqual(b.expected);
    // A batch is one transaction: all of it was committed before the crash (all duplicates now) or none.
    const expectedStatus = committedAtCrash.has(b.index) ? 'duplicate' : 'accepted';
    expect([b.index, results.map((r) => r.status)]).toEqual([b.index, b.events.map(() => expectedStatus)]);
    if (usageAcked(b)) expect(expectedStatus).toBe('duplicate');
  }
  for (const p of purchases) {
    const answer = p.second.answer;
    expect([p.key, answer?.status, answer?.body?.errors]).toEqual([p.key, 200, undefined]);
    const got = answer!.body.data.purchaseCredits;
    expect(got).toMatchObject({ type: 'STANDARD', credits: p.credits, block: { type: 'STANDARD', granted: p.credits } });
    // An acknowledged purchase replays as exactly what was acknowledged.
    if (purchaseAcked(p)) expect(got).toEqual(p.first.answer!.body.data.purchaseCredits);
  }

  // ---- exactly once, in the database ----
  const events = await q(`SELECT event_id, credits::text AS credits, ledger_transaction_id FROM usage_events WHERE organization_id = $1`, [buyer.id]);
  expect(events).toHaveLength(allEventIds.length);
  expect(new Set(events.map((e) => e.event_id))).toEqual(new Set(allEventIds));
  const byId = new Map(events.map((e) => [e.event_id, micro(e.credits)]));
  for (const b of batches) expect(b.events.map((e) => byId.get(e.eventId))).toEqual(b.expected);
  expect(sumOf([...byId.values()])).toBe(totalUsage);

  const purchaseRows = await q(
    `SELECT idempotency_key, count(*)::int AS n, min(id::text) AS id, to_char(min(total_price), 'FM999999990.00') AS total, min(credits)::text AS credits
       FROM purchases WHERE buyer_id = $1 AND idempotency_key LIKE $2 GROUP BY idempotency_key`,
    [buyer.id, `crash-${RUN}-p%`],
  );
  expect(purchaseRows).toHaveLength(PURCHASES);
  for (const p of purchases) {
    const row = purchaseRows.find((r) => r.idempotency_key === p.key);
    const got = p.second.answer!.body.data.purchaseCredits;
    expect(row).toMatchObject({ n: 1, id: got.id });
    expect(micro(row.credits)).toBe(micro(p.credits));
    expect(cents(row.total)).toBe(cents(got.totalPrice));
  }
  const totalPaid = sumOf(purchases.map((p) => cents(p.second.answer!.body.data.purchaseCredits.totalPrice)));

  // ---- what the API shows: the wallet moved by the purchases, the credits by purchases and usage ----
  const after = await gqlOk(base2, `{ wallet { available } creditBalance { available held blocks { id type granted remaining } } }`, {}, buyer.key);
  expect(cents(after.wallet.available)).toBe(walletBefore - totalPaid);
  expect(micro(after.creditBalance.available)).toBe(creditsBefore + totalPurchased - totalUsage);
  expect(after.creditBalance.held).toBe('0.000000');
  // One block per purchase (setup + the 20), and the consumed credits are exactly the usage charged.
  expect(after.creditBalance.blocks).toHaveLength(PURCHASES + 1);
  const consumed = sumOf(after.creditBalance.blocks.map((k: any) => micro(k.granted) - micro(k.remaining)));
  expect(consumed).toBe(totalUsage);

  // ---- the ledger ----
  const integrity = await gqlOk(base2, `{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY);
  expect(integrity.ledgerIntegrity).toEqual({ balanced: true, problems: [] });
  await expectNothingHalfWritten(q, buyer.id);

  // ---- the webhook outbox: what was pending at the crash is delivered after the restart ----
  await pollUntil(
    'the deliveries pending at the crash to reach the receiver with a 200',
    () => pendingAtCrash.every((id) => receiver.received.slice(hitsBeforeRestart).some((h) => h.headers['ccx-webhook-id'] === id && h.status === 200)),
    30_000,
  );
  await pollUntil('the deliveries to be marked delivered', async () => {
    const rows = await q(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE id = ANY($1::uuid[]) AND delivered_at IS NOT NULL`, [pendingAtCrash]);
    return rows[0].n === pendingAtCrash.length;
  }, 10_000);
  const alerts = await gqlOk(base2, `{ alerts { id kind } }`, {}, buyer.key);
  expect(alerts.alerts.map((a: any) => a.kind)).toEqual(['LOW_BALANCE']);
  const deliveries = await q(`SELECT id, alert_id FROM webhook_deliveries WHERE organization_id = $1`, [buyer.id]);
  expect(deliveries).toEqual([{ id: pendingAtCrash[0], alert_id: alerts.alerts[0].id }]);
  for (const hit of receiver.received) expect(JSON.parse(hit.body)).toMatchObject({ id: pendingAtCrash[0], type: 'LOW_BALANCE' });

  // The server that came back is healthy and ready.
  expect((await call(base2, '/health/ready')).status).toBe(200);
  console.log(
    `crash-safety: ${JSON.stringify({ ...report, batchesCommittedAtCrash: committedAtCrash.size, purchasesCommittedAtCrash: purchaseRowsAtCrash.length, receiverHits: receiver.received.length })}`,
  );
}, 300_000);

/**
 * No ledger transaction without its business row and no business row without its transaction:
 * usage (usage_events ↔ kind 'usage') and standard purchases (purchases ↔ 'purchase.standard',
 * and every block of the buyer belongs to a purchase).
 */
async function expectNothingHalfWritten(q: (sql: string, params?: unknown[]) => Promise<any[]>, buyerId: string): Promise<void> {
  const [counts] = await q(
    `SELECT
       (SELECT count(*)::int FROM usage_events e LEFT JOIN ledger_transactions t ON t.id = e.ledger_transaction_id WHERE t.id IS NULL) AS events_without_tx,
       (SELECT count(*)::int FROM ledger_transactions t LEFT JOIN usage_events e ON e.ledger_transaction_id = t.id WHERE t.kind = 'usage' AND e.id IS NULL) AS usage_tx_without_event,
       (SELECT count(*)::int FROM ledger_transactions t LEFT JOIN purchases p ON p.ledger_transaction_id = t.id WHERE t.kind = 'purchase.standard' AND p.id IS NULL) AS purchase_tx_without_purchase,
       (SELECT count(*)::int FROM credit_blocks b LEFT JOIN purchases p ON p.block_id = b.id WHERE b.organization_id = $1 AND p.id IS NULL) AS blocks_without_purchase,
       (SELECT count(*)::int FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id WHERE e.id IS NULL) AS tx_without_entries`,
    [buyerId],
  );
  expect(counts).toEqual({ events_without_tx: 0, usage_tx_without_event: 0, purchase_tx_without_purchase: 0, blocks_without_purchase: 0, tx_without_entries: 0 });
}
