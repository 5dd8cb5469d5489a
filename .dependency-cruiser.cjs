/**
 * CCX's module rules (issue 11, docs/ARCHITECTURE.md), checked by `npm run deps`
 * (scripts/check-boundaries.mjs), which `npm test` runs first.
 *
 * A module is a folder: `apps/api/src/<module>` or `libs/<lib>`. Three kinds:
 * - foundation: what every domain module may use (auth, clock, config, …). It never imports a
 *   domain module, so that the arrow always points api → domain → ledger/finance.
 * - domain: the business modules; they reach each other only through the other's `index.ts`.
 * - api: the transport shell (`http`, `console`, `health`, `app.module.ts`, `main.ts`), which may
 *   import anything.
 * Module-level cycles (A imports B somewhere and B imports A somewhere, even with no file-level
 * cycle) are found by the script over the same cruise, since dependency-cruiser's own `circular`
 * rule sees files only.
 */
const FOUNDATION = ['auth', 'clock', 'common', 'config', 'database', 'graphql', 'ledger', 'net', 'observability'];
const API = ['http', 'console', 'health', 'rate-limit'];
const any = (names) => `(${names.join('|')})`;
const src = '^apps/api/src/';

module.exports = {
  FOUNDATION,
  API,
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
