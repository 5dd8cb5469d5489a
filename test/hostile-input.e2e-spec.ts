/**
 * Hostile input (SPEC §1, §2, §8, §11), as a property over generated values: every mutation of the
 * contract, and POST /v1/usage, gets SQL fragments, huge and exotic strings (unicode, zero-width,
 * RTL, NUL, lone surrogates), malformed decimals, wrong JSON types, unknown or malformed ids,
 * out-of-range ints and bad dates — through real HTTP, with GraphQL variables, each call with the
 * role allowed to make it, so that the input (not the caller) is what gets judged.
 *
 * For every generated call:
 *  - the answer is never a 5xx, leaks no stack frame or SQL, and every error code is one of SPEC
 *    §11 (plus the GraphQL protocol codes);
 *  - a call the test can tell is invalid is refused and changes nothing (ledger transactions,
 *    every account's posted and held balance, and a fingerprint of every domain table); a call it
 *    cannot classify may succeed, but when it is answered with an error it changed nothing.
 * After the run the ledger is balanced.
 *
 * Values that once reached PostgreSQL unchecked (NUL, unpaired surrogates, impossible or year-0
 * dates) are also sent deterministically, every run; one still-open bug is pinned by a
 * `.failing` test (usage event ids with unpaired surrogates) until usage/ refuses them.
 *
 * One app and one world for the file: a deep listing, a funded buyer with credits and
 * reservations, a lender with a DELINQUENT and a DEFAULTED (frozen) facility plus offers to accept
 * or decline, a model rate card, open usage holds, and organizations to approve or suspend. Things
 * that a valid call consumes come from pools, so later calls still meet valid targets.
 */
import fc from 'fast-check';
import { Decimal } from '@ccx/core';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';
import { acceptOk, clockTo, facilityOf, offerOk } from './support/drivers/facilities.js';
import { createListing } from './support/drivers/listings.js';
import { purchase, reserve } from './support/drivers/market.js';
import { integrity } from './support/drivers/operator.js';
import { operatorId, type Org, register, registerPending } from './support/drivers/organizations.js';
import { authorizeUsageOk, upsertModel } from './support/drivers/usage.js';
import { deposit } from './support/drivers/wallets.js';
import { GPU_CATALOG } from './support/oracles.js';

// ---------------------------------------------------------------------------------------------
// What a safe answer looks like
// ---------------------------------------------------------------------------------------------

const SPEC_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'INVALID_STATE',
  'INSUFFICIENT_FUNDS',
  'INSUFFICIENT_CAPACITY',
  'INSUFFICIENT_CREDITS',
  'CREDITS_FROZEN',
  'PRICE_LIMIT_EXCEEDED',
  'IDEMPOTENCY_CONFLICT',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
];
const GRAPHQL_CODES = new Set([...SPEC_CODES, 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST']);
const REST_CODES = new Set(SPEC_CODES);

/** Things no answer may contain (unless the request itself did: inputs are echoed in messages). */
const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\bat [\w$.<>[\] ]+ \([^)]*:\d+:\d+\)/],
  ['a stack frame', /\bat (?:file:\/\/|node:|\/)\S*:\d+:\d+/],
  ['a source location', /\.(?:ts|js|mjs|cjs):\d+:\d+/],
  ['a stack trace', /"stacktrace"|"stack"\s*:/],
  ['SQL', /\bSELECT\b/],
  ['SQL', /\bINSERT\b/],
  ['SQL', /\bUPDATE\s+\w+\s+SET\b/],
  ['SQL', /\bDELETE\s+FROM\b/],
  ['a SQL syntax error', /syntax error at or near/],
  ['a TypeORM error', /QueryFailedError|EntityNotFoundError|TypeORMError|EntityPropertyNotFoundError/],
  [
    'a PostgreSQL error',
    /invalid byte sequence for encoding|date\/time field value out of range|numeric field overflow|violates [\w -]*constraint|invalid input syntax for|duplicate key value|value too long for type|out of range for type|unterminated quoted/,
  ],
];

function leaksIn(responseText: string, requestText: string): string[] {
  return LEAKS.filter(([, re]) => re.test(responseText) && !re.test(requestText)).map(([what, re]) => `${what} (${re.source.slice(0, 40)})`);
}

// ---------------------------------------------------------------------------------------------
// Hostile values
// ---------------------------------------------------------------------------------------------

const HUGE = 'x'.repeat(100_000);
const HUGE_DIGITS = '1'.repeat(100_000);
const NESTED = JSON.parse('['.repeat(500) + ']'.repeat(500));
const LONG_LIST = Array.from({ length: 10_000 }, (_, i) => i);
/** Own "__proto__" / "constructor" keys, as JSON.parse makes them. */
const PROTO = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}');

const SQL = [
  "'; DROP TABLE ledger_entries; --",
  '1 OR 1=1',
  "' OR '1'='1",
  "1; DROP TABLE organizations; --",
  "'); DELETE FROM ledger_balances; --",
  '1 UNION SELECT key_hash FROM api_keys --',
  "'; select pg_sleep(10); --",
  '$1',
  "%' AND 1=1 --",
  "\\'; --",
  '"; --',
];
const UNICODE = [
  '🚀💸',
  '👩‍👩‍👧‍👦',
  'zero\u200Bwidth\u200C\u200D',
  '\u202Eevil\u202C',
  '\u200F\u061C',
  'עברית',
  'مرحبا',
  'Ω≈ç√∫˜µ',
  '\uFEFFbom',
  'e\u0301\u0301\u0301',
  '\uD800',
  'lone\uDFFF',
  '𝟙𝟚𝟛',
  'Ｈ１００',
  '🏴‍☠️'.repeat(50),
];
const NUL = ['\u0000', 'a\u0000b', 'H100\u0000', '\u0000'.repeat(16)];
const CONTROL = ['\u0001\u0002\u0003', 'line\nbreak', 'tab\there', '\r\n', '\u001b[31mred\u001b[0m', '\u007f', '\u0085'];
const BLANK = ['', ' ', '   ', '\t\n'];
const WRONG_TYPES: unknown[] = [
  0,
  1,
  -1,
  1.5,
  1e308,
  2 ** 31,
  2 ** 53,
  true,
  false,
  [],
  ['1'],
  {},
  { value: '1' },
  { a: { b: { c: [1, { d: null }] } } },
  NESTED,
  LONG_LIST,
  PROTO,
];

const MALFORMED_DECIMALS = [
  '1e309',
  '1e3',
  '1E2',
  'NaN',
  'nan',
  'Infinity',
  '-Infinity',
  '0x1F',
  '0b101',
  '1,000',
  '1_000',
  '  1',
  '1 ',
  '\t1',
  '+1',
  '.5',
  '1.',
  '',
  '-',
  '--1',
  '0001',
  '1.5.5',
  '١٢٣',
  '１',
  '1\u0000',
  '1\u200B',
  '\u202E1',
  '1.0000000001',
  '0.0000001',
  '99999999999999999999999999',
  '1000000000000000.01',
  '-1',
  '-0.01',
  '-0',
  '0',
  '0.000000',
  HUGE_DIGITS,
  `0.${'0'.repeat(99_998)}1`,
];

const UNKNOWN_UUIDS = ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '123e4567-e89b-12d3-a456-426614174000'];
const MALFORMED_IDS = [
  'not-a-uuid',
  '00000000-0000-0000-0000-00000000000g',
  '00000000000000000000000000000000',
  '{00000000-0000-0000-0000-000000000000}',
  ' 00000000-0000-0000-0000-000000000000',
  '00000000-0000-0000-0000-000000000000\u0000',
  '00000000-0000-0000-0000-0000000000000',
  '../../etc/passwd',
  '1',
  '-1',
  'null',
];

const BAD_DATES = [
  '2026-13-01T00:00:00Z',
  '2026-02-30T00:00:00Z',
  '2026-04-31T12:00:00Z',
  '2026-01-05T24:00:00Z',
  '2026-01-05T25:00:00Z',
  '2026-01-05T12:60:00Z',
  '2026-01-05T12:00:61Z',
  '2026-01-05T12:00:00+99:99',
  '2026-01-05',
  '2026-01-05T12:00:00',
  '2026-01-05 12:00:00Z',
  '20260105T120000Z',
  'Mon, 05 Jan 2026 12:00:00 GMT',
  'now',
  'yesterday',
  '',
  '1767614400000',
  '2026-01-05T12:00:00.1234567891Z',
  '+275760-09-13T00:00:00.000Z',
  '-271821-04-20T00:00:00.000Z',
  '2026-01-05T12:00:00Z\u0000',
  "2026-01-05T12:00:00Z'; DROP TABLE listings; --",
];
const EDGE_DATES = ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '0001-01-01T00:00:00Z', '2028-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '1970-01-01T00:00:00Z', '1900-02-28T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '2026-01-05T12:00:00+14:00', '2026-01-05T12:00:00-12:00'];

const BAD_INTS: unknown[] = [-1, -(2 ** 31) - 1, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, 1e308, '1', '', '1e3', true, [], [1], {}, null];
const EDGE_INTS = [0, 2 ** 31 - 1, -(2 ** 31), 1, 36, 37, 365, 366, 3650, 3651];

/** Characters PostgreSQL text or JSON cannot hold as sent: NUL and unpaired surrogates. */
const UNSTORABLE = [...NUL, '\uD800', 'lone\uDFFF', 'x\uDBFFy', '\uDC00\uD800'];
const hasUnstorable = (v: string) => /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v);

const hostileText = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...SQL, ...UNICODE, ...CONTROL, ...BLANK, HUGE) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>(...UNSTORABLE) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(...WRONG_TYPES, null) },
);
const hostileDecimal = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...MALFORMED_DECIMALS) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(...SQL, ...UNICODE.slice(0, 4), HUGE) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...WRONG_TYPES, null) },
  { weight: 1, arbitrary: fc.double().map((d) => d) },
);
const hostileId = (valid: () => string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<unknown>(...MALFORMED_IDS, ...UNKNOWN_UUIDS, ...SQL, ...NUL, HUGE) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(...WRONG_TYPES, null) },
    // A real id with trailing junk, or upper-cased (the latter is the same id).
    { weight: 1, arbitrary: fc.constant(null).map(() => valid()).chain((ids) => fc.constantFrom(...ids.flatMap((id) => [`${id}'--`, `${id} `, id.toUpperCase()]))) },
  );
const hostileInt = fc.constantFrom<unknown>(...BAD_INTS, ...EDGE_INTS);
const hostileDate = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(...BAD_DATES, ...EDGE_DATES) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(0, -1, 1767614400000, 1e20, true, [], {}, null, ['2026-01-05T12:00:00Z'], ...SQL.slice(0, 2), HUGE) },
);
/**
 * Usage event ids without unpaired surrogates. KNOWN BUG (see the `.failing` test at the end):
 * usage/usage-event.parser.ts accepts them, PostgreSQL stores them lossily (U+FFFD), and a replay
 * is a 500. Until the parser refuses them they would make every usage property flaky; the known-bug
 * test pins the behaviour instead. When it is fixed, use hostileText for event ids again.
 */
const hostileEventId = hostileText;

const hostileEnum = fc.constantFrom<unknown>('OPERATOR', 'ADMIN', 'buyer', 'BUYER ', ' BUYER', 'BUYER\u0000', 'BUYER; DROP TABLE organizations', 'Ｂuyer', '', 0, 1, true, [], ['BUYER'], {}, null, HUGE);

// ---------------------------------------------------------------------------------------------
// Classification: `true` when a value is certainly invalid for its field (else: may be valid)
// ---------------------------------------------------------------------------------------------

const PLAIN_DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))$/;
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

interface DecimalRule {
  scale: number;
  sign: 'positive' | 'nonNegative';
  nullable?: boolean;
}
/** SPEC §1: plain notation, at most `scale` decimals, the sign required, at most 10^15. */
function decimalInvalid(v: unknown, rule: DecimalRule): boolean {
  if (v === null || v === undefined) return !rule.nullable;
  if (typeof v !== 'string' || v.length > 64 || !PLAIN_DECIMAL.test(v)) return true;
  const d = new Decimal(v);
  if ((d.decimalPlaces() ?? 0) > rule.scale) return true;
  if (d.abs().gt('1e15')) return true;
  return rule.sign === 'positive' ? !d.gt(0) : d.lt(0);
}

function intInvalid(v: unknown, rule: { min?: number; max?: number; nullable?: boolean }): boolean {
  if (v === null || v === undefined) return !rule.nullable;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT_MIN || v > INT_MAX) return true;
  return (rule.min !== undefined && v < rule.min) || (rule.max !== undefined && v > rule.max);
}

/** Free text: wrong types, null where required, empty (and, unless told, blank) are invalid. */
function textInvalid(v: unknown, rule: { nullable?: boolean; blankOk?: boolean; max?: number }): boolean {
  if (v === null || v === undefined) return !rule.nullable;
  if (typeof v !== 'string' || v.length === 0 || hasUnstorable(v)) return true;
  if (!rule.blankOk && v.trim().length === 0) return true;
  return rule.max !== undefined && v.length > rule.max;
}

const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const daysIn = (year: number, month: number) => [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];

/** The DateTime scalar: an ISO-8601 instant with a zone, real calendar/clock fields, UTC years 1 to 9999. */
function dateInvalid(v: unknown, rule: { nullable?: boolean } = {}): boolean {
  if (v === null || v === undefined) return !rule.nullable;
  if (typeof v !== 'string') return true;
  const m = ISO.exec(v);
  if (!m) return true;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return true;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return true;
  const utcYear = new Date(v).getUTCFullYear();
  return !(utcYear >= 1 && utcYear <= 9999);
}

// ---------------------------------------------------------------------------------------------
// Generated arguments
// ---------------------------------------------------------------------------------------------

/** One generated argument or input field: its value and whether it is certainly invalid. */
interface Gen {
  value: unknown;
  invalid: boolean;
  omit?: boolean;
}
const OMIT: Gen = { value: undefined, invalid: false, omit: true };

interface FieldSpec {
  valid: fc.Arbitrary<unknown>;
  hostile: fc.Arbitrary<unknown>;
  invalid: (v: unknown) => boolean;
  /** May be left out of its input object. */
  optional?: boolean;
}

/** JSON has no NaN or Infinity: they travel as null, so they are judged as null. */
const asSent = (v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

type FieldArb = fc.Arbitrary<Gen> & { optional?: boolean; judge?: (v: unknown) => boolean };

function field(spec: FieldSpec): FieldArb {
  const judged = (value: unknown): Gen => ({ value: asSent(value), invalid: spec.invalid(asSent(value)) });
  const arbs: fc.WeightedArbitrary<Gen>[] = [
    { weight: 2, arbitrary: spec.valid.map(judged) },
    { weight: 3, arbitrary: spec.hostile.map(judged) },
  ];
  if (spec.optional) arbs.push({ weight: 1, arbitrary: fc.constant(OMIT) });
  return Object.assign(fc.oneof(...arbs), { optional: spec.optional, judge: spec.invalid });
}

/**
 * An input object from its fields; sometimes with an unknown field, a field left out, or replaced
 * as a whole by a wrong type. An unknown field, a missing required field and a wrong type are
 * invalid; `cross` judges the combination of the fields.
 */
function inputObject(fields: Record<string, FieldArb>, cross?: (o: Record<string, unknown>) => boolean): fc.Arbitrary<Gen> {
  const judge = (value: Record<string, unknown>): boolean =>
    Object.entries(fields).some(([k, f]) => (k in value ? f.judge!(value[k]) : !f.optional)) || (cross ? cross(value) : false);
  const base = fc.record(fields).map((gens) => {
    const value: Record<string, unknown> = {};
    for (const [k, g] of Object.entries(gens)) if (!g.omit) value[k] = g.value;
    return value;
  });
  return fc.oneof(
    { weight: 12, arbitrary: base.map((value) => ({ value, invalid: judge(value) })) },
    {
      weight: 1,
      arbitrary: fc.tuple(base, fc.constantFrom('extra', '__proto__', 'constructor', ''), fc.constantFrom<unknown>(...SQL.slice(0, 3), 1, null, {})).map(([base, key, junk]) => {
        const value = { ...base };
        Object.defineProperty(value, key, { value: junk, enumerable: true, configurable: true, writable: true });
        return { value, invalid: true };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(base, fc.constantFrom(...Object.keys(fields))).map(([base, key]) => {
        const value = { ...base };
        delete value[key];
        return { value, invalid: judge(value) };
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('x', 1, true, [], [{}], null, HUGE, NESTED).map((value) => ({ value, invalid: true })) },
  );
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

let t: TestApp;
const W = {
  operatorId: '',
  mainListing: '',
  seller: null as unknown as Org,
  sellerListings: [] as string[],
  buyer: null as unknown as Org,
  reservations: [] as string[],
  lender: null as unknown as Org,
  delinquent: '',
  defaulted: '',
  offers: [] as string[],
  usageBuyer: null as unknown as Org,
  depositTarget: null as unknown as Org,
  settingsBuyer: null as unknown as Org,
  victims: [] as string[],
  captureHolds: [] as string[],
  voidHolds: [] as string[],
  /** An open hold no generated call touches. */
  spareHold: '',
};
/** Every id the world has (lower case): a well-formed id outside this set names nothing. */
const knownIds = new Set<string>();
const knownGpuTypes = new Set(Object.keys(GPU_CATALOG));
const knownModels = new Set<string>();
/** Holds captured by a generated call: capturing one again is a replay. */
const capturedHolds = new Set<string>();
const note = (...ids: string[]) => ids.forEach((id) => knownIds.add(id.toLowerCase()));

const CLOCK_AT = '2026-02-20T12:00:00.000Z';

beforeAll(async () => {
  t = await startTestApp();
  W.operatorId = await operatorId(t);
  const mainSeller = await register(t, 'SELLER');
  W.mainListing = (await createListing(t, mainSeller, { gpuHours: '1000000', wholesalePricePerGpuHour: '1.50' })).id;
  W.seller = await register(t, 'SELLER');
  for (let i = 0; i < 3; i++) W.sellerListings.push((await createListing(t, W.seller, { gpuHours: '10', wholesalePricePerGpuHour: '2.00' })).id);

  W.buyer = await register(t, 'BUYER');
  await deposit(t, W.buyer, '1000000.00');
  const bought = await purchase(t, W.buyer, '100');
  if (bought.errors) throw new Error(JSON.stringify(bought.errors));
  for (let i = 0; i < 3; i++) W.reservations.push(await reserve(t, W.buyer, '2', 3));

  W.lender = await register(t, 'LENDER');
  await deposit(t, W.lender, '1000000.00');
  const delinquent = await offerOk(t, W.lender, { borrowerId: W.buyer.id, principal: '10000.00', apr: '0.18', termMonths: 12, graceDays: 5, defaultAfterDaysPastDue: 365 });
  W.delinquent = (await acceptOk(t, W.buyer, delinquent.id)).id;
  const defaulted = await offerOk(t, W.lender, { borrowerId: W.buyer.id, principal: '5000.00', apr: '0.12', termMonths: 6, graceDays: 0, defaultAfterDaysPastDue: 1 });
  W.defaulted = (await acceptOk(t, W.buyer, defaulted.id)).id;
  for (let i = 0; i < 3; i++) W.offers.push((await offerOk(t, W.lender, { borrowerId: W.buyer.id, principal: '1000.00', apr: '0.10', termMonths: 3 })).id);

  W.usageBuyer = await register(t, 'BUYER');
  await deposit(t, W.usageBuyer, '1000000.00');
  const usageCredits = await purchase(t, W.usageBuyer, '50000');
  if (usageCredits.errors) throw new Error(JSON.stringify(usageCredits.errors));
  await upsertModel(t, 'llama', '0.5', '1.5');
  knownModels.add('llama');

  W.depositTarget = await register(t, 'BUYER');
  W.settingsBuyer = await register(t, 'BUYER');
  for (const role of ['SELLER', 'LENDER', 'SELLER', 'BUYER'] as const) W.victims.push((await registerPending(t, role)).id);

  // A month and a half on: the first installments are past due. The 5-day-grace facility is
  // DELINQUENT (the lender may freeze it); the 1-day-default one DEFAULTED and frozen (recoverable).
  await clockTo(t, CLOCK_AT);
  expect((await facilityOf(t, W.delinquent)).status).toBe('DELINQUENT');
  expect(await facilityOf(t, W.defaulted)).toMatchObject({ status: 'DEFAULTED', frozen: true });

  for (let i = 0; i < 3; i++) {
    W.captureHolds.push((await authorizeUsageOk(t, { organizationId: W.usageBuyer.id, eventId: `cap-${i}`, credits: '5' })).id);
    W.voidHolds.push((await authorizeUsageOk(t, { organizationId: W.usageBuyer.id, eventId: `void-${i}`, credits: '5' })).id);
  }
  W.spareHold = (await authorizeUsageOk(t, { organizationId: W.usageBuyer.id, eventId: 'spare', credits: '5' })).id;
  note(
    W.operatorId,
    mainSeller.id,
    W.mainListing,
    W.seller.id,
    ...W.sellerListings,
    W.buyer.id,
    ...W.reservations,
    W.lender.id,
    W.delinquent,
    W.defaulted,
    ...W.offers,
    W.usageBuyer.id,
    W.depositTarget.id,
    W.settingsBuyer.id,
    ...W.victims,
    ...W.captureHolds,
    ...W.voidHolds,
    W.spareHold,
  );
}, 120_000);

afterAll(async () => {
  await t?.close();
});

// ---------------------------------------------------------------------------------------------
// Snapshots: what an invalid or refused call must leave exactly as it was
// ---------------------------------------------------------------------------------------------

/** Tables fingerprinted row by row (small, and their rows change in place). */
const FINGERPRINTED = [
  'organizations',
  'gpu_types',
  'models',
  'listings',
  'allocations',
  'credit_blocks',
  'purchases',
  'reservations',
  'facilities',
  'installments',
  'repayments',
  'recoveries',
  'freeze_events',
  'usage_holds',
  'balance_settings',
  'auto_refill_jobs',
  'ledger_holds',
];
/** Append-only or large tables: counted. */
const COUNTED = ['ledger_transactions', 'ledger_entries', 'ledger_accounts', 'usage_events', 'alerts', 'webhook_deliveries', 'api_keys'];

const SNAPSHOT_SQL = `SELECT json_build_object(
  ${COUNTED.map((tb) => `'${tb}', (SELECT count(*) FROM ${tb})`).join(',\n  ')},
  ${FINGERPRINTED.map((tb) => `'${tb}', (SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM ${tb} x)`).join(',\n  ')},
  'balances', (SELECT md5(coalesce(string_agg(code || '=' || posted || '/' || held, ',' ORDER BY code), ''))
               FROM (SELECT a.code, sum(b.posted)::text AS posted, sum(b.held)::text AS held
                     FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id GROUP BY a.code) s),
  'clock', (SELECT now FROM business_clock WHERE id = 1)
) AS snap`;

type Snapshot = Record<string, unknown>;
async function snapshot(): Promise<Snapshot> {
  const [row] = await t.db.dataSource.query(SNAPSHOT_SQL);
  return row.snap;
}
function changed(before: Snapshot, after: Snapshot): string[] {
  return Object.keys(before).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

// ---------------------------------------------------------------------------------------------
// Calls and the properties every answer must satisfy
// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  text: string;
  body: any;
}

async function send(path: string, bodyText: string, key: string | null): Promise<Answer> {
  const req = t.http().post(path).set('content-type', 'application/json');
  if (key) req.set('authorization', `Bearer ${key}`);
  const res = await req.send(bodyText);
  return { status: res.status, text: res.text, body: res.body };
}

/** A readable, bounded description of a request for failure messages. */
function show(what: string, payload: unknown): string {
  const text = JSON.stringify(payload, (_k, v) => (typeof v === 'string' && v.length > 80 ? `${v.slice(0, 40)}…(${v.length} chars)` : Array.isArray(v) && v.length > 20 ? `[${v.length} items]` : v));
  return `${what} ${text.length > 1500 ? `${text.slice(0, 1500)}…` : text}`;
}

function fail(request: string, problem: string, answer?: Answer): never {
  throw new Error(`${problem}\n  request: ${request}\n  answer: ${answer ? `${answer.status} ${answer.text.slice(0, 800)}` : '-'}`);
}

/** Never 5xx, no leak. */
function expectSafe(request: string, requestText: string, answer: Answer): void {
  if (answer.status >= 500) fail(request, `HTTP ${answer.status}`, answer);
  const leaks = leaksIn(answer.text, requestText);
  if (leaks.length) fail(request, `the answer leaks ${leaks.join(', ')}`, answer);
}

interface MutationCase {
  name: string;
  /** The document; its variables are the keys of `args`. */
  query: string;
  key: () => string | null;
  args: Record<string, fc.Arbitrary<Gen>>;
  numRuns?: number;
  /**
   * A replay the server answers with its first result whatever the rest of the input says
   * (capturing a hold that is already captured): neither valid nor invalid.
   */
  replay?: (variables: Record<string, unknown>) => boolean;
  /** Learns from a call that succeeded (e.g. a new catalog entry). */
  onSuccess?: (variables: Record<string, unknown>, data: any) => void;
}

const stats = { calls: 0, invalid: 0, succeeded: 0 };

async function runCase(c: MutationCase, gens: Record<string, Gen>): Promise<void> {
  const variables: Record<string, unknown> = {};
  let invalid = false;
  for (const [name, g] of Object.entries(gens)) {
    if (g.omit) continue;
    variables[name] = g.value;
    invalid ||= g.invalid;
  }
  if (c.replay?.(variables)) invalid = false;
  const requestText = JSON.stringify({ query: c.query, variables });
  const request = show(c.name, variables);
  const before = await snapshot();
  const answer = await send('/graphql', requestText, c.key());
  stats.calls++;
  expectSafe(request, requestText, answer);

  const body = answer.body;
  if (!body || typeof body !== 'object') fail(request, 'the answer is not a GraphQL JSON response', answer);
  const errors: { message?: unknown; extensions?: { code?: unknown } }[] | undefined = body.errors;
  if (errors !== undefined) {
    if (!Array.isArray(errors) || errors.length === 0) fail(request, '`errors` is not a non-empty list', answer);
    for (const e of errors) {
      const code = e?.extensions?.code;
      if (typeof code !== 'string' || !GRAPHQL_CODES.has(code)) fail(request, `error code ${String(code)} is not an allowed code`, answer);
      if (typeof e.message !== 'string') fail(request, 'an error without a message', answer);
    }
  }
  const ok = errors === undefined && body.data?.[c.name] != null;
  if (invalid) {
    stats.invalid++;
    if (ok) fail(request, 'an invalid call succeeded', answer);
  }
  if (ok) {
    stats.succeeded++;
    c.onSuccess?.(variables, body.data[c.name]);
    return;
  }
  const diff = changed(before, await snapshot());
  if (diff.length) fail(request, `a refused call changed ${diff.join(', ')}`, answer);
}

/**
 * fast-check's own report prints the whole counterexample (100k-character strings, 1,000-event
 * batches); the failure's message already names the request in bounded form.
 */
function params<T>(numRuns: number): fc.Parameters<T> {
  return {
    numRuns,
    endOnFailure: true,
    reporter: (run) => {
      if (run.failed) {
        const cause = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
        throw new Error(`property failed after ${run.numRuns} runs (seed ${run.seed}, path "${run.counterexamplePath}")\n${cause}`);
      }
    },
  };
}

async function property(c: MutationCase): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.record(c.args), (gens) => runCase(c, gens)),
    params(c.numRuns ?? 20),
  );
}

// ---------------------------------------------------------------------------------------------
// Field kinds
// ---------------------------------------------------------------------------------------------

let serial = 0;
/** A value no earlier call used (fast-check's uuids repeat across runs on purpose). */
const fresh = (prefix: string) => fc.uuid().map((u) => `${prefix}-${u.slice(0, 8)}-${++serial}`);
const cents = (min: number, max: number) => fc.integer({ min, max }).map((c) => (c / 100).toFixed(2));
const micros = (min: number, max: number) => fc.integer({ min, max }).map((m) => (m / 1e6).toFixed(6));

const decimalField = (valid: fc.Arbitrary<unknown>, rule: DecimalRule & { optional?: boolean }) =>
  field({ valid, hostile: hostileDecimal, invalid: (v) => decimalInvalid(v, rule), optional: rule.optional });

const idInvalid = (valid: () => string[], nullable = false) => (v: unknown) => {
  if (v === null || v === undefined) return !nullable;
  if (typeof v === 'number') return true; // an Int is a legal ID literal, but names nothing here
  if (typeof v !== 'string' || !UUID.test(v)) return true;
  return !knownIds.has(v.toLowerCase()) && !valid().some((id) => id.toLowerCase() === v.toLowerCase());
};
const idField = (valid: () => string[]) =>
  field({ valid: fc.constant(null).chain(() => fc.constantFrom(...valid())), hostile: hostileId(valid), invalid: idInvalid(valid) });

const textField = (valid: fc.Arbitrary<unknown>, rule: { nullable?: boolean; blankOk?: boolean; max?: number; optional?: boolean } = {}) =>
  field({ valid, hostile: hostileText, invalid: (v) => textInvalid(v, rule), optional: rule.optional });

/** A name from a closed set (catalog entries): anything else names nothing. */
const nameField = (valid: fc.Arbitrary<unknown>, known: () => Set<string>, rule: { nullable?: boolean; optional?: boolean } = {}) =>
  field({
    valid,
    hostile: hostileText,
    invalid: (v) => (v === null || v === undefined ? !rule.nullable : typeof v !== 'string' || !known().has(v)),
    optional: rule.optional,
  });

const intField = (valid: fc.Arbitrary<unknown>, rule: { min?: number; max?: number; nullable?: boolean; optional?: boolean }) =>
  field({ valid, hostile: hostileInt, invalid: (v) => intInvalid(v, rule), optional: rule.optional });

const dateField = (valid: fc.Arbitrary<unknown>, rule: { nullable?: boolean; optional?: boolean } = {}) =>
  field({ valid, hostile: hostileDate, invalid: (v) => dateInvalid(v, rule), optional: rule.optional });

const GPU_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,99}$/;

/** SPEC §8: one quantity — a rated model with some tokens, or a catalog GPU type with seconds. */
function usageQuantityInvalid(e: Record<string, unknown>, rest: boolean): boolean {
  const present = (k: string) => e[k] !== undefined && e[k] !== null;
  const hasModel = present('model');
  if (hasModel === present('gpuType')) return true;
  if (hasModel) {
    if (typeof e.model !== 'string' || !knownModels.has(e.model) || present('gpuSeconds')) return true;
    const tokens = (k: string) => (!present(k) ? 0 : typeof e[k] === 'number' && Number.isSafeInteger(e[k]) && (e[k] as number) >= 0 && (e[k] as number) <= 1e12 ? (e[k] as number) : NaN);
    const total = tokens('inputTokens') + tokens('outputTokens');
    return Number.isNaN(total) || total === 0;
  }
  if (typeof e.gpuType !== 'string' || !knownGpuTypes.has(e.gpuType) || present('inputTokens') || present('outputTokens')) return true;
  const s = e.gpuSeconds;
  if (rest && typeof s === 'number' && Number.isSafeInteger(s)) return s <= 0 || s > 1e15;
  return decimalInvalid(s, { scale: 6, sign: 'positive' });
}

/** Quantity fields of a usage event (GraphQL), hostile one at a time or together. */
function usageQuantityFields(): fc.Arbitrary<Record<string, FieldArb>> {
  return fc.constantFrom('tokens', 'gpu').map((mode) => {
    const tokens = mode === 'tokens';
    return {
      model: nameField(tokens ? fc.constant('llama') : fc.constant(null), () => knownModels, { nullable: true, optional: true }),
      inputTokens: intField(tokens ? fc.integer({ min: 0, max: 200_000 }) : fc.constant(null), { min: 0, nullable: true, optional: true }),
      outputTokens: intField(tokens ? fc.integer({ min: 1, max: 200_000 }) : fc.constant(null), { min: 0, nullable: true, optional: true }),
      gpuType: nameField(tokens ? fc.constant(null) : fc.constant('H100'), () => knownGpuTypes, { nullable: true, optional: true }),
      gpuSeconds: decimalField(tokens ? fc.constant(null) : micros(1, 60_000_000), { scale: 6, sign: 'positive', nullable: true, optional: true }),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The mutations of the contract
// ---------------------------------------------------------------------------------------------

const operator = () => OPERATOR_KEY;
const USAGE_MUTATION = `mutation($i: RecordUsageInput!) { recordUsage(input: $i) { eventId credits duplicate } }`;

const CASES: MutationCase[] = [
  {
    name: 'registerOrganization',
    query: `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id name role status } } }`,
    key: () => null,
    args: {
      input: inputObject({
        name: textField(fc.oneof(fresh('org'), fc.constantFrom(...SQL, ...UNICODE.slice(0, 6))), {}),
        role: field({ valid: fc.constantFrom('BUYER', 'SELLER', 'LENDER'), hostile: hostileEnum, invalid: (v) => !['BUYER', 'SELLER', 'LENDER'].includes(v as string) }),
      }),
    },
    onSuccess: (_v, data) => note(data.organization.id),
  },
  {
    name: 'approveOrganization',
    query: `mutation($id: ID!) { approveOrganization(id: $id) { id status } }`,
    key: operator,
    args: { id: idField(() => [...W.victims, W.operatorId]) },
  },
  {
    name: 'suspendOrganization',
    query: `mutation($id: ID!) { suspendOrganization(id: $id) { id status } }`,
    key: operator,
    args: { id: idField(() => [...W.victims, W.operatorId]) },
  },
  {
    name: 'recordDeposit',
    query: `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { currency available } }`,
    key: operator,
    args: {
      input: inputObject({
        organizationId: idField(() => [W.depositTarget.id, W.operatorId]),
        amount: decimalField(cents(1, 100_000), { scale: 2, sign: 'positive' }),
        reference: textField(fresh('ref'), {}),
      }),
    },
  },
  {
    name: 'upsertGpuType',
    query: `mutation($input: GpuTypeInput!) { upsertGpuType(input: $input) { name creditsPerGpuHour } }`,
    key: operator,
    args: {
      input: inputObject({
        name: field({
          valid: fresh('T'),
          hostile: hostileText,
          invalid: (v) => typeof v !== 'string' || !GPU_NAME.test(v),
        }),
        creditsPerGpuHour: decimalField(micros(1, 5_000_000), { scale: 6, sign: 'positive' }),
      }),
    },
    onSuccess: (v) => knownGpuTypes.add((v.input as { name: string }).name),
  },
  {
    name: 'upsertModel',
    query: `mutation($input: ModelInput!) { upsertModel(input: $input) { id inputCreditsPerMillionTokens outputCreditsPerMillionTokens } }`,
    key: operator,
    args: {
      input: inputObject({
        // An ID variable also takes an integer (as its decimal text).
        id: field({ valid: fresh('m'), hostile: hostileText, invalid: (v) => !(typeof v === 'string' || Number.isInteger(v)) || !MODEL_ID.test(String(v)) }),
        inputCreditsPerMillionTokens: decimalField(micros(0, 5_000_000), { scale: 6, sign: 'nonNegative' }),
        outputCreditsPerMillionTokens: decimalField(micros(0, 5_000_000), { scale: 6, sign: 'nonNegative' }),
      }),
    },
    onSuccess: (v) => knownModels.add(String((v.input as { id: unknown }).id)),
  },
  {
    name: 'createListing',
    query: `mutation($input: CreateListingInput!) { createListing(input: $input) { id status totalCredits } }`,
    key: () => W.seller.key,
    args: {
      input: inputObject({
        gpuType: nameField(fc.constantFrom('H100', 'A100'), () => knownGpuTypes),
        region: textField(fc.constantFrom('us-east', 'eu-west', ...UNICODE.slice(0, 3)), {}),
        gpuHours: decimalField(cents(1, 1_000_000), { scale: 2, sign: 'positive' }),
        wholesalePricePerGpuHour: decimalField(micros(100_000, 5_000_000), { scale: 6, sign: 'positive' }),
        availableFrom: dateField(fc.constantFrom('2026-01-01T00:00:00Z', '2026-02-20T12:00:00.000Z', '2026-03-01T00:00:00+02:00')),
        availableUntil: dateField(fc.constantFrom('2027-06-01T00:00:00Z', '2026-12-31T23:59:59.999Z')),
      }),
    },
    onSuccess: (_v, data) => note(data.id),
  },
  {
    name: 'withdrawListing',
    query: `mutation($id: ID!) { withdrawListing(id: $id) { id status } }`,
    key: () => W.seller.key,
    args: { id: idField(() => [...W.sellerListings, W.mainListing]) },
  },
  {
    name: 'purchaseCredits',
    query: `mutation($input: PurchaseCreditsInput!) { purchaseCredits(input: $input) { id credits unitPrice totalPrice block { id } } }`,
    key: () => W.buyer.key,
    args: {
      input: inputObject({
        credits: decimalField(micros(1, 10_000_000), { scale: 6, sign: 'positive' }),
        maxUnitPrice: decimalField(fc.constantFrom('100', '2.5', '0.000001'), { scale: 6, sign: 'positive', nullable: true, optional: true }),
        idempotencyKey: textField(fresh('buy'), {}),
      }),
    },
    onSuccess: (_v, data) => note(data.id, data.block.id),
  },
  {
    name: 'reserveCredits',
    query: `mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) { id status } }`,
    key: () => W.buyer.key,
    args: {
      input: inputObject({
        creditsPerMonth: decimalField(micros(1, 5_000_000), { scale: 6, sign: 'positive' }),
        termMonths: intField(fc.integer({ min: 1, max: 36 }), { min: 1, max: 36 }),
        idempotencyKey: textField(fresh('res'), {}),
      }),
    },
    onSuccess: (_v, data) => note(data.id),
  },
  {
    name: 'cancelReservation',
    query: `mutation($id: ID!) { cancelReservation(id: $id) { id status earlyTerminationFee } }`,
    key: () => W.buyer.key,
    args: { id: idField(() => W.reservations) },
  },
  {
    name: 'offerFacility',
    query: `mutation($input: OfferFacilityInput!) { offerFacility(input: $input) { id status } }`,
    key: () => W.lender.key,
    args: {
      input: inputObject({
        borrowerId: idField(() => [W.buyer.id]),
        principal: decimalField(cents(10_000, 10_000_000), { scale: 2, sign: 'positive' }),
        apr: decimalField(fc.constantFrom('0.18', '0', '0.05', '1'), { scale: 6, sign: 'nonNegative' }),
        termMonths: intField(fc.integer({ min: 1, max: 60 }), { min: 1 }),
        graceDays: intField(fc.integer({ min: 0, max: 10 }), { min: 0, nullable: true, optional: true }),
        defaultAfterDaysPastDue: intField(fc.integer({ min: 11, max: 90 }), { min: 1, nullable: true, optional: true }),
        recoveryRate: decimalField(fc.constantFrom('0.8', '0', '1', '0.5'), { scale: 6, sign: 'nonNegative', nullable: true, optional: true }),
      }),
    },
    onSuccess: (_v, data) => note(data.id),
  },
  {
    name: 'acceptFacility',
    query: `mutation($id: ID!) { acceptFacility(id: $id) { id status creditsGranted } }`,
    key: () => W.buyer.key,
    args: { id: idField(() => [...W.offers, W.delinquent]) },
  },
  {
    name: 'declineFacility',
    query: `mutation($id: ID!) { declineFacility(id: $id) { id status } }`,
    key: () => W.buyer.key,
    args: { id: idField(() => [...W.offers, W.delinquent]) },
  },
  {
    name: 'repayFacility',
    query: `mutation($input: RepayFacilityInput!) { repayFacility(input: $input) { id amount interestPaid principalPaid } }`,
    key: () => W.buyer.key,
    args: {
      input: inputObject({
        facilityId: idField(() => [W.delinquent, W.defaulted]),
        amount: decimalField(cents(1, 5_000), { scale: 2, sign: 'positive' }),
        idempotencyKey: textField(fresh('pay'), {}),
      }),
    },
  },
  {
    name: 'freezeFacilityCredits',
    query: `mutation($id: ID!, $reason: String!) { freezeFacilityCredits(id: $id, reason: $reason) { id status frozen } }`,
    key: () => W.lender.key,
    args: {
      id: idField(() => [W.delinquent, W.defaulted]),
      reason: textField(fc.constantFrom('missed payments', ...SQL.slice(0, 2), ...UNICODE.slice(0, 3)), {}),
    },
  },
  {
    name: 'unfreezeFacilityCredits',
    query: `mutation($id: ID!, $reason: String) { unfreezeFacilityCredits(id: $id, reason: $reason) { id status frozen } }`,
    key: () => W.lender.key,
    args: {
      id: idField(() => [W.delinquent, W.defaulted]),
      reason: textField(fc.constantFrom('paid up', ...SQL.slice(0, 2)), { nullable: true, optional: true }),
    },
  },
  {
    name: 'recoverFrozenCredits',
    query: `mutation($id: ID!) { recoverFrozenCredits(id: $id) { id creditsRecovered amountRecovered chargedOffAmount } }`,
    key: () => W.lender.key,
    args: { id: idField(() => [W.defaulted, W.delinquent]) },
  },
];

/** Usage mutations: quantity fields depend on the mode (model + tokens, or GPU type + seconds). */
function usageCase(name: 'recordUsage' | 'captureUsage'): MutationCase & { argsArb: fc.Arbitrary<Record<string, Gen>> } {
  const record = name === 'recordUsage';
  const query = record
    ? `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { eventId credits duplicate } }`
    : `mutation($input: CaptureUsageInput!) { captureUsage(input: $input) { eventId credits duplicate } }`;
  const argsArb = usageQuantityFields().chain((quantity) => {
    const fields: Record<string, FieldArb> = record
      ? {
          organizationId: idField(() => [W.usageBuyer.id]),
          eventId: field({ valid: fresh('ev'), hostile: hostileEventId, invalid: (v) => textInvalid(v, { blankOk: true }) }),
          occurredAt: dateField(fc.constantFrom('2026-02-20T11:00:00Z', '2026-01-01T00:00:00.5Z'), { nullable: true, optional: true }),
          ...quantity,
        }
      : { holdId: idField(() => W.captureHolds), ...quantity };
    return fc.record({ input: inputObject(fields, (o) => usageQuantityInvalid(o, false)) });
  });
  return {
    name,
    query,
    key: operator,
    args: {},
    numRuns: 25,
    argsArb,
    replay: (v) => !record && capturedHolds.has(String((v.input as { holdId?: unknown } | null)?.holdId).toLowerCase()),
    onSuccess: (v, data) => {
      if (!record && data.duplicate === false) capturedHolds.add(String((v.input as { holdId: unknown }).holdId).toLowerCase());
    },
  };
}

const USAGE_CASES = [usageCase('recordUsage'), usageCase('captureUsage')];

CASES.push(
  {
    name: 'authorizeUsage',
    query: `mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { id credits status expiresAt } }`,
    key: operator,
    args: {
      input: inputObject({
        organizationId: idField(() => [W.usageBuyer.id]),
        eventId: textField(fresh('auth'), { blankOk: true }),
        credits: decimalField(micros(1, 2_000_000), { scale: 6, sign: 'positive' }),
      }),
    },
    onSuccess: (_v, data) => note(data.id),
  },
  {
    name: 'voidUsageHold',
    query: `mutation($id: ID!) { voidUsageHold(id: $id) { id status } }`,
    key: operator,
    args: { id: idField(() => W.voidHolds) },
  },
  {
    name: 'updateBalanceSettings',
    query: `mutation($input: BalanceSettingsInput!) { updateBalanceSettings(input: $input) { lowBalanceThreshold autoRefillThreshold autoRefillCredits autoRefillMaxUnitPrice webhookUrl } }`,
    key: () => W.settingsBuyer.key,
    args: {
      input: inputObject({
        lowBalanceThreshold: decimalField(micros(0, 100_000_000), { scale: 6, sign: 'nonNegative', nullable: true, optional: true }),
        autoRefillThreshold: decimalField(micros(0, 100_000_000), { scale: 6, sign: 'nonNegative', nullable: true, optional: true }),
        autoRefillCredits: decimalField(micros(1, 100_000_000), { scale: 6, sign: 'positive', nullable: true, optional: true }),
        autoRefillMaxUnitPrice: decimalField(micros(1, 10_000_000), { scale: 6, sign: 'positive', nullable: true, optional: true }),
        webhookUrl: field({
          valid: fc.constantFrom('https://hooks.example.com/ccx', 'http://localhost:9/hook', null),
          hostile: fc.oneof(
            hostileText,
            fc.constantFrom(
              'javascript:alert(1)',
              'file:///etc/passwd',
              'gopher://example.com',
              'http://',
              'https://user:secret@example.com/',
              'http://exa mple.com',
              ' https://example.com',
              'https://example.com/\u0000',
              `https://example.com/${'a'.repeat(2100)}`,
              `https://example.com/${HUGE}`,
              'https://例え.テスト/🚀',
            ),
          ),
          invalid: (v) => {
            if (v === null) return false;
            if (typeof v !== 'string' || v.length === 0 || v.length > 2048) return true;
            try {
              const url = new URL(v);
              return (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname || !!url.username || !!url.password;
            } catch {
              return true;
            }
          },
          optional: true,
        }),
      }),
    },
  },
);

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

describe('hostile GraphQL variables', () => {
  afterAll(() => {
    // Sanity: the generators produce both sides (a run that only ever refuses proves little).
    expect(stats.invalid).toBeGreaterThan(stats.calls / 3);
    expect(stats.succeeded).toBeGreaterThan(0);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: never 5xx, never a leak, an allowed code, no change unless valid', async (_name, c) => {
    await property(c);
  });

  it.each(USAGE_CASES.map((c) => [c.name, c] as const))('%s: never 5xx, never a leak, an allowed code, no change unless valid', async (_name, c) => {
    await fc.assert(
      fc.asyncProperty(c.argsArb, (gens) => runCase(c, gens)),
      params(c.numRuns ?? 20),
    );
  });

  it('malformed documents and wrong variable shapes are protocol errors, not failures', async () => {
    const docs = [
      'mutation { registerOrganization(input: { name: "x", role: BUYER }) { apiKey ',
      "mutation { recordDeposit(input: { organizationId: \"'; DROP TABLE x; --\", amount: 1e309, reference: 1 }) { available } }",
      'mutation { purchaseCredits(input: { credits: 1.5, idempotencyKey: "k" }) { id } }',
      `mutation { createListing(input: { gpuType: "H100", region: "r", gpuHours: "1", wholesalePricePerGpuHour: "1", availableFrom: "2026-02-30T00:00:00Z", availableUntil: 5 }) { id } }`,
      `mutation { advanceTestClock(to: "0000-01-01T00:00:00Z") }`,
      'mutation { registerOrganization(input: { name: "\\u0000", role: BUYER }) { apiKey } }',
      'mutation { registerOrganization(input: { name: "x", role: OPERATOR }) { apiKey } }',
      '{ __typename '.repeat(200),
      `query { ${'listings { edges { node { seller { id } } } } '.repeat(3)} }`,
      '\u0000',
      HUGE,
    ];
    for (const query of docs) {
      for (const variables of [{}, null, [], 'x', { input: HUGE }]) {
        const requestText = JSON.stringify({ query, variables });
        const request = show('document', { query: query.slice(0, 120), variables });
        const before = await snapshot();
        const answer = await send('/graphql', requestText, OPERATOR_KEY);
        expectSafe(request, requestText, answer);
        for (const e of answer.body?.errors ?? []) {
          if (!GRAPHQL_CODES.has(e?.extensions?.code)) fail(request, `error code ${e?.extensions?.code} is not an allowed code`, answer);
        }
        if (answer.body?.errors) expect(changed(before, await snapshot())).toEqual([]);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// POST /v1/usage
// ---------------------------------------------------------------------------------------------

interface RestEvent {
  value: unknown;
  invalid: boolean;
}

const restIdInvalid = (v: unknown) => typeof v !== 'string' || !UUID.test(v) || v.toLowerCase() !== W.usageBuyer.id.toLowerCase();

/** One event of a batch: a plausible event with hostile fields, or junk in place of an event. */
const restEvent: fc.Arbitrary<RestEvent> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        mode: fc.constantFrom('tokens', 'gpu'),
        eventId: fc.oneof({ weight: 2, arbitrary: fresh('rest') }, { weight: 1, arbitrary: hostileEventId }),
        organizationId: fc.oneof(
          { weight: 3, arbitrary: fc.constant(null).map(() => W.usageBuyer.id) },
          { weight: 1, arbitrary: fc.constant(null).map(() => W.usageBuyer.id.toUpperCase()) },
          { weight: 2, arbitrary: hostileId(() => [W.usageBuyer.id]) },
        ),
        model: fc.oneof({ weight: 3, arbitrary: fc.constant<unknown>('llama') }, { weight: 1, arbitrary: hostileText }),
        inputTokens: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 100_000 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(...BAD_INTS, 1e12, 1e12 + 1, 2 ** 53) }),
        outputTokens: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 100_000 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(...BAD_INTS) }),
        gpuType: fc.oneof({ weight: 3, arbitrary: fc.constant<unknown>('H100') }, { weight: 1, arbitrary: hostileText }),
        gpuSeconds: fc.oneof(
          { weight: 3, arbitrary: fc.oneof(micros(1, 60_000_000), fc.integer({ min: 1, max: 60 })) },
          { weight: 1, arbitrary: hostileDecimal },
        ),
        occurredAt: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: hostileDate }),
        junk: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(PROTO, NESTED, { a: [{ b: HUGE.slice(0, 1000) }] }) }),
        both: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      })
      .map((r) => {
        const e: Record<string, unknown> = { eventId: r.eventId, organizationId: r.organizationId };
        // Usually one kind of quantity; sometimes both (never valid).
        if (r.mode === 'tokens' || r.both) Object.assign(e, { model: r.model, inputTokens: r.inputTokens, outputTokens: r.outputTokens });
        if (r.mode === 'gpu' || r.both) Object.assign(e, { gpuType: r.gpuType, gpuSeconds: r.gpuSeconds });
        if (r.occurredAt !== undefined) e.occurredAt = r.occurredAt;
        if (r.junk !== undefined) e.extra = r.junk;
        const occurredInvalid =
          e.occurredAt !== undefined &&
          e.occurredAt !== null &&
          (typeof e.occurredAt !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(e.occurredAt) || Number.isNaN(new Date(e.occurredAt).getTime()));
        const invalid =
          typeof e.eventId !== 'string' || e.eventId.length === 0 || restIdInvalid(e.organizationId) || usageQuantityInvalid(e, true) || occurredInvalid;
        return { value: e, invalid };
      }),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 0, 'event', true, [], [{}], {}, NESTED, PROTO).map((value) => ({ value, invalid: true })) },
);

/** A batch body (any JSON, or raw text) and, when it is a batch, its events. */
interface RestBody {
  text: string;
  events: RestEvent[] | null;
  wholeInvalid: boolean;
}

const tinyEvent = (i: number, tag: string): RestEvent => ({
  value: { organizationId: W.usageBuyer.id, eventId: `bulk-${tag}-${i}`, gpuType: 'H100', gpuSeconds: '1' },
  invalid: false,
});

const restBody: fc.Arbitrary<RestBody> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(fc.array(restEvent, { minLength: 1, maxLength: 8 }), fc.option(fc.constantFrom<unknown>(HUGE, PROTO, [1, 2, 3]), { nil: undefined })).map(([events, top]) => ({
      text: JSON.stringify({ events: events.map((e) => e.value), ...(top !== undefined ? { extra: top } : {}) }),
      events,
      wholeInvalid: false,
    })),
  },
  {
    // Big batches, up to the limit: mostly tiny valid events, a few hostile ones among them.
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom(999, 1000), fc.array(restEvent.filter((e) => JSON.stringify(e.value ?? null).length < 2000), { maxLength: 5 }), fresh('b')).map(([n, hostile, tag]) => {
      const events = [...hostile, ...Array.from({ length: n - hostile.length }, (_, i) => tinyEvent(i, tag))];
      return { text: JSON.stringify({ events: events.map((e) => e.value) }), events, wholeInvalid: false };
    }),
  },
  {
    weight: 1,
    arbitrary: fresh('over').map((tag) => ({
      text: JSON.stringify({ events: Array.from({ length: 1001 }, (_, i) => tinyEvent(i, tag).value) }),
      events: null,
      wholeInvalid: true,
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom<unknown>(null, [], 'events', 0, {}, { events: null }, { events: {} }, { events: 'x' }, { events: [] }, { events: HUGE }, { Events: [{}] }, PROTO, NESTED)
      .map((v) => ({ text: JSON.stringify(v), events: null, wholeInvalid: true })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('{"events": [', '{"events": [{"eventId": "a"}]', '\u0000', 'null', 'undefined', "{'events': []}", '{"events":' + '['.repeat(5000), '{"events": 1e999999}')
      .map((text) => ({ text, events: null, wholeInvalid: true })),
  },
  {
    // JSON numbers beyond a double parse to Infinity: an event that is not an object.
    weight: 1,
    arbitrary: fc.constant<RestBody>({
      text: '{"events": [1e999999, {"eventId": 1e999999, "organizationId": 1e999999}]}',
      events: [
        { value: null, invalid: true },
        { value: null, invalid: true },
      ],
      wholeInvalid: false,
    }),
  },
);

describe('hostile POST /v1/usage bodies', () => {
  it('never 5xx, never a leak, an allowed code per event, and only accepted events change anything', async () => {
    let accepted = 0;
    let rejected = 0;
    // Every event accepted so far, by buyer and event id, with its credits: a replay of one is
    // answered with its first result even if it is now invalid (a gateway retrying a timed-out
    // batch must not be told "refused" for a charged event), and the fuzzer's small pool of
    // hostile event ids makes such repeats happen across runs.
    const charged = new Map<string, string>();
    const keyOf = (value: unknown) => {
      const e = value as { organizationId?: unknown; eventId?: unknown } | null;
      return typeof e?.organizationId === 'string' && typeof e.eventId === 'string' ? `${e.organizationId.toLowerCase()}|${e.eventId}` : null;
    };
    await fc.assert(
      fc.asyncProperty(restBody, async (b) => {
        const request = show('POST /v1/usage', b.events ? { events: b.events.length, sample: b.events.slice(0, 3).map((e) => e.value) } : b.text.slice(0, 300));
        const before = await snapshot();
        const answer = await send('/v1/usage', b.text, OPERATOR_KEY);
        expectSafe(request, b.text, answer);
        if (answer.status !== 200) {
          const code = answer.body?.error?.code;
          if (!REST_CODES.has(code)) fail(request, `error code ${String(code)} is not an allowed code`, answer);
          const diff = changed(before, await snapshot());
          if (diff.length) fail(request, `a refused batch changed ${diff.join(', ')}`, answer);
          return;
        }
        if (b.wholeInvalid || !b.events) fail(request, 'an invalid body was answered 200', answer);
        const results = answer.body?.results;
        if (!Array.isArray(results) || results.length !== b.events.length) fail(request, 'not one result per event', answer);
        let acceptedHere = 0;
        results.forEach((r: any, i: number) => {
          if (!['accepted', 'duplicate', 'rejected'].includes(r?.status)) fail(request, `result ${i} has status ${r?.status}`, answer);
          if (r.status === 'rejected') {
            rejected++;
            if (!REST_CODES.has(r.code)) fail(request, `result ${i} has code ${r.code}`, answer);
            if (typeof r.message !== 'string') fail(request, `result ${i} has no message`, answer);
          } else if (b.events![i].invalid) {
            const key = keyOf(b.events![i].value);
            const replay = r.status === 'duplicate' && key !== null && charged.get(key) === r.credits;
            if (!replay) fail(request, `invalid event ${i} was ${r.status}: ${show('event', b.events![i].value)}`, answer);
          }
          if (r.status === 'accepted') {
            acceptedHere++;
            const key = keyOf(b.events![i].value);
            if (key !== null) charged.set(key, r.credits);
          }
        });
        accepted += acceptedHere;
        const after = await snapshot();
        const newEvents = Number(after.usage_events) - Number(before.usage_events);
        if (newEvents !== acceptedHere) fail(request, `${acceptedHere} events accepted but ${newEvents} usage events stored`, answer);
        if (acceptedHere === 0) {
          const diff = changed(before, after);
          if (diff.length) fail(request, `a batch with nothing accepted changed ${diff.join(', ')}`, answer);
        } else {
          // One ledger transaction per buyer per batch (at most one per accepted event).
          const posted = Number(after.ledger_transactions) - Number(before.ledger_transactions);
          if (posted < 1 || posted > acceptedHere) fail(request, `${acceptedHere} events accepted but ${posted} ledger transactions posted`, answer);
        }
      }),
      params(40),
    );
    expect(accepted).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Values that once reached PostgreSQL unchecked (500 INTERNAL_SERVER_ERROR, or a silently
// different value stored): each one, every run, not only when the generator happens to pick it.
// ---------------------------------------------------------------------------------------------

describe('values PostgreSQL cannot hold are the caller’s BAD_USER_INPUT and change nothing', () => {
  const NUL_TEXT = 'a\u0000b';
  const LONE = 'x\uD800y';

  async function refused(label: string, query: string, variables: Record<string, unknown>, key: string | null): Promise<void> {
    const requestText = JSON.stringify({ query, variables });
    const request = show(label, variables);
    const before = await snapshot();
    const answer = await send('/graphql', requestText, key);
    expectSafe(request, requestText, answer);
    const codes = (answer.body?.errors ?? []).map((e: any) => e?.extensions?.code);
    if (codes[0] !== 'BAD_USER_INPUT') fail(request, `expected BAD_USER_INPUT, got ${JSON.stringify(codes)}`, answer);
    const diff = changed(before, await snapshot());
    if (diff.length) fail(request, `a refused call changed ${diff.join(', ')}`, answer);
  }

  it('text with NUL or an unpaired surrogate, in every kind of text field', async () => {
    for (const bad of [NUL_TEXT, LONE, 'lone\uDFFF']) {
      await refused('registerOrganization.name', `mutation($i: RegisterOrganizationInput!) { registerOrganization(input: $i) { apiKey } }`, { i: { name: bad, role: 'BUYER' } }, null);
      await refused('recordDeposit.reference', `mutation($i: RecordDepositInput!) { recordDeposit(input: $i) { available } }`, { i: { organizationId: W.depositTarget.id, amount: '1.00', reference: bad } }, OPERATOR_KEY);
      await refused(
        'createListing.region',
        `mutation($i: CreateListingInput!) { createListing(input: $i) { id } }`,
        { i: { gpuType: 'H100', region: bad, gpuHours: '1', wholesalePricePerGpuHour: '1.50', availableFrom: '2026-01-01T00:00:00Z', availableUntil: '2027-01-01T00:00:00Z' } },
        W.seller.key,
      );
      await refused('purchaseCredits.idempotencyKey', `mutation($i: PurchaseCreditsInput!) { purchaseCredits(input: $i) { id } }`, { i: { credits: '1', idempotencyKey: bad } }, W.buyer.key);
      await refused('reserveCredits.idempotencyKey', `mutation($i: ReserveCreditsInput!) { reserveCredits(input: $i) { id } }`, { i: { creditsPerMonth: '1', termMonths: 1, idempotencyKey: bad } }, W.buyer.key);
      await refused('repayFacility.idempotencyKey', `mutation($i: RepayFacilityInput!) { repayFacility(input: $i) { id } }`, { i: { facilityId: W.delinquent, amount: '1.00', idempotencyKey: bad } }, W.buyer.key);
      await refused('freezeFacilityCredits.reason', `mutation($id: ID!, $r: String!) { freezeFacilityCredits(id: $id, reason: $r) { id } }`, { id: W.delinquent, r: bad }, W.lender.key);
      if (bad === NUL_TEXT) {
        await refused('recordUsage.eventId', USAGE_MUTATION, { i: { organizationId: W.usageBuyer.id, eventId: bad, gpuType: 'H100', gpuSeconds: '1' } }, OPERATOR_KEY);
      }
      await refused('authorizeUsage.eventId', `mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) { id } }`, { i: { organizationId: W.usageBuyer.id, eventId: bad, credits: '1' } }, OPERATOR_KEY);
    }
    // Names looked up in the catalog: NUL cannot even be compared.
    await refused('recordUsage.model', USAGE_MUTATION, { i: { organizationId: W.usageBuyer.id, eventId: 'nul-model', model: NUL_TEXT, inputTokens: 1 } }, OPERATOR_KEY);
    await refused('recordUsage.gpuType', USAGE_MUTATION, { i: { organizationId: W.usageBuyer.id, eventId: 'nul-gpu', gpuType: NUL_TEXT, gpuSeconds: '1' } }, OPERATOR_KEY);
    await refused('captureUsage.model', `mutation($i: CaptureUsageInput!) { captureUsage(input: $i) { credits } }`, { i: { holdId: W.spareHold, model: NUL_TEXT, inputTokens: 1 } }, OPERATOR_KEY);
    await refused('updateBalanceSettings.webhookUrl', `mutation($i: BalanceSettingsInput!) { updateBalanceSettings(input: $i) { webhookUrl } }`, { i: { webhookUrl: `https://example.com/${NUL_TEXT}` } }, W.settingsBuyer.key);
  });

  it('dates that do not exist or that PostgreSQL cannot hold', async () => {
    const listing = (from: string, until: string) => ({
      i: { gpuType: 'H100', region: 'us-east', gpuHours: '1', wholesalePricePerGpuHour: '1.50', availableFrom: from, availableUntil: until },
    });
    const LISTING = `mutation($i: CreateListingInput!) { createListing(input: $i) { id availableFrom availableUntil } }`;
    for (const bad of ['2026-02-30T00:00:00Z', '2027-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-03-01T24:00:00Z', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00']) {
      await refused('createListing.availableFrom', LISTING, listing(bad, '2027-06-01T00:00:00Z'), W.seller.key);
      await refused('createListing.availableUntil', LISTING, listing('2026-01-01T00:00:00Z', bad), W.seller.key);
      await refused('recordUsage.occurredAt', USAGE_MUTATION, { i: { organizationId: W.usageBuyer.id, eventId: `when-${bad}`, gpuType: 'H100', gpuSeconds: '1', occurredAt: bad } }, OPERATOR_KEY);
    }
    // In the future of the clock, so only the date itself is wrong (it used to become March 2).
    await refused('advanceTestClock', `mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to: '2026-02-30T00:00:00Z' }, OPERATOR_KEY);
    await refused('advanceTestClock', `mutation { advanceTestClock(to: "2026-02-29T12:00:00Z") }`, {}, OPERATOR_KEY);
  });

  it('POST /v1/usage: such an event is refused (alone or with its batch) and nothing is charged', async () => {
    const event = (e: Record<string, unknown>) => ({ organizationId: W.usageBuyer.id, gpuType: 'H100', gpuSeconds: '1', ...e });
    const batches = [
      [event({ eventId: NUL_TEXT })],
      [event({ eventId: 'nul-gpu-rest', gpuType: NUL_TEXT })],
      [{ organizationId: W.usageBuyer.id, eventId: 'nul-model-rest', model: NUL_TEXT, inputTokens: 1 }],
      [event({ eventId: 'year-0', occurredAt: '0000-01-01T00:00:00Z' })],
    ];
    for (const events of batches) {
      const text = JSON.stringify({ events });
      const request = show('POST /v1/usage', events);
      const before = await snapshot();
      const answer = await send('/v1/usage', text, OPERATOR_KEY);
      expectSafe(request, text, answer);
      const ok =
        (answer.status === 400 && answer.body?.error?.code === 'BAD_USER_INPUT') ||
        (answer.status === 200 && answer.body?.results?.[0]?.status === 'rejected' && ['BAD_USER_INPUT', 'NOT_FOUND'].includes(answer.body.results[0].code));
      if (!ok) fail(request, 'expected the event to be refused with BAD_USER_INPUT', answer);
      const diff = changed(before, await snapshot());
      if (diff.length) fail(request, `a refused batch changed ${diff.join(', ')}`, answer);
    }
  });
});

describe('usage event ids with unpaired surrogates (once a known bug, now refused)', () => {
  // parseUsageEvent checks eventId only for type and length (1..128). An unpaired surrogate
  // reaches PostgreSQL, which stores U+FFFD in its place: the id answered is not the id stored.
  // The duplicate lookup (usage.service.ts existingEvents) then compares the stored id with the
  // sent one and misses, so a replay inserts again and the unique index answers 500; another id
  // that maps to the same stored text ("x\uFFFDy") is answered as a duplicate and never charged;
  // two such ids in one batch are a 500 for the whole batch. Fix: refuse ill-formed ids (and NUL)
  // in parseUsageEvent as BAD_USER_INPUT (common/amounts.ts hasUnstorableCharacters). Remove
  // `.failing` then, and let hostileEventId above go back to hostileText.
  it('are refused as BAD_USER_INPUT, through GraphQL and POST /v1/usage, and change nothing', async () => {
    for (const eventId of ['known-\uD800', 'known-\uDBFF', 'known-\uFFFD']) {
      const variables = { i: { organizationId: W.usageBuyer.id, eventId, gpuType: 'H100', gpuSeconds: '1' } };
      const requestText = JSON.stringify({ query: USAGE_MUTATION, variables });
      const answer = await send('/graphql', requestText, OPERATOR_KEY);
      expectSafe(show('recordUsage', variables), requestText, answer);
      if (!eventId.includes('\uFFFD')) expect(answer.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      // A well-formed U+FFFD id is an id like any other: charged, not a duplicate of anything.
      else expect(answer.body.data?.recordUsage).toMatchObject({ duplicate: false });
    }
    const text = JSON.stringify({ events: ['rest-\uDC00', 'rest-\uDC01'].map((eventId) => ({ organizationId: W.usageBuyer.id, eventId, gpuType: 'H100', gpuSeconds: '1' })) });
    const answer = await send('/v1/usage', text, OPERATOR_KEY);
    expectSafe('POST /v1/usage (two unpaired-surrogate ids)', text, answer);
  });
});

// ---------------------------------------------------------------------------------------------
// The test clock last: a valid call moves business time for good.
// ---------------------------------------------------------------------------------------------

describe('advanceTestClock and the ledger afterwards', () => {
  it('advanceTestClock: never 5xx, never a leak, an allowed code, no change unless valid', async () => {
    await property({
      name: 'advanceTestClock',
      query: `mutation($to: DateTime!) { advanceTestClock(to: $to) }`,
      key: operator,
      args: {
        to: field({
          // The past is refused (the clock only moves forward); the present and a little later are fine.
          valid: fc.constantFrom(CLOCK_AT, '2026-02-20T12:00:00.001Z', '2026-02-20T12:05:00Z', '2026-01-01T00:00:00Z'),
          hostile: hostileDate,
          invalid: (v) => dateInvalid(v),
        }),
      },
      numRuns: 20,
    });
  });

  it('leaves the ledger balanced', async () => {
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
});
