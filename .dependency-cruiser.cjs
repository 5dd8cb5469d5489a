/**
 * CCX's module rules (issue 11, docs/ARCHITECTURE.md), checked by `npm run deps`
 * (scripts/check-boundaries.mjs), which `npm test` runs first.
 *
 * A module is a folder: `apps/api/src/<module>` or `libs/<lib>`. Three kinds:
 * - foundation: what every domain module may use (auth, clock, config, …). It never imports a
 *   domain module, so that the arrow always points api → domain → ledger/finance.
 * - domain: the business modules; they reach each other only through the other's `index.ts`.
 * - api: the transport shell (`console`, `health`, `app.module.ts`, `main.ts`), which may
 *   import anything.
 * Module-level cycles (A imports B somewhere and B imports A somewhere, even with no file-level
 * cycle) are found by the script over the same cruise, since dependency-cruiser's own `circular`
 * rule sees files only.
 */
const FOUNDATION = ['auth', 'clock', 'common', 'config', 'database', 'graphql', 'http', 'ledger', 'net', 'observability'];
const API = ['console', 'health', 'rate-limit'];
const any = (names) => `(${names.join('|')})`;
const src = '^apps/api/src/';

/**
 * Who owns each table: only the owning module writes it (INSERT/UPDATE/DELETE in its SQL, or its
 * entities, which no other module may import), and the ledger's tables are read through the
 * ledger's API only. scripts/check-boundaries.mjs checks the SQL in every module against this.
 */
const TABLE_OWNERS = {
  'lib:ledger': ['ledger_accounts', 'ledger_assets', 'ledger_balances', 'ledger_entries', 'ledger_holds', 'ledger_transactions'],
  clock: ['business_clock'],
  organizations: ['organizations', 'api_keys'],
  catalog: ['gpu_types', 'models'],
  listings: ['listings', 'allocations'],
  credits: ['credit_blocks'],
  purchases: ['purchases'],
  reservations: ['reservations'],
  facilities: ['facilities', 'installments', 'repayments'],
  freeze: ['freeze_events', 'recoveries'],
  'financing-requests': ['financing_requests', 'financing_request_offers'],
  usage: ['usage_events', 'usage_event_keys', 'usage_holds'],
  alerts: ['alerts', 'balance_settings', 'auto_refill_jobs', 'webhook_deliveries'],
  payouts: ['payouts'],
  gateway: [
    'inference_endpoints',
    'inference_endpoint_models',
    'endpoint_circuits',
    'endpoint_outcomes',
    'gateway_idempotency',
    'inference_requests',
    'listing_service',
    'api_key_usage',
  ],
};

module.exports = {
  FOUNDATION,
  API,
  TABLE_OWNERS,
  forbidden: [
    {
      name: 'no-file-cycles',
      severity: 'error',
      comment: 'An import cycle between files: break it (move the shared piece down).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'libs-never-import-apps',
      severity: 'error',
      comment: 'A library is below the app: it never imports apps/, test/, bench/ or scripts/.',
      from: { path: '^libs/' },
      to: { path: '^(apps|test|bench|scripts)/' },
    },
    {
      name: 'ledger-and-finance-stand-on-core-only',
      severity: 'error',
      comment: 'libs/ledger and libs/finance depend on libs/core and nothing else of ours.',
      from: { path: '^libs/(ledger|finance)/' },
      to: { path: '^libs/', pathNot: ['^libs/core/', '^libs/$1/'] },
    },
    {
      name: 'no-foreign-entity',
      severity: 'error',
      comment:
        "A module owns its tables: another module's entity is reached through that module's service, never imported.",
      from: { path: `${src}([^/]+)/` },
      to: { path: `${src}[^/]+/.*\\.entity\\.ts$`, pathNot: `${src}$1/` },
    },
    {
      name: 'foundation-never-imports-domain',
      severity: 'error',
      comment: 'Foundation modules sit below the domain modules (api → domain → foundation, ledger, finance).',
      from: { path: `${src}${any(FOUNDATION)}/` },
      to: { path: src, pathNot: [`${src}${any(FOUNDATION)}/`] },
    },
    {
      name: 'domain-through-index',
      severity: 'error',
      comment: "Another domain module is reached through its index.ts (its public API), never its internals.",
      from: { path: `${src}([^/]+)/`, pathNot: `${src}${any([...API])}/` },
      to: {
        path: `${src}[^/]+/`,
        pathNot: [`${src}$1/`, `${src}${any(FOUNDATION)}/`, `${src}[^/]+/index\\.ts$`],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['\\.(medium-|e2e-)?spec\\.ts$', '^apps/web/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.json'] },
  },
};
