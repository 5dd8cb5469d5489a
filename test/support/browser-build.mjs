// Plain JavaScript: called from jest's global setup, which Node loads outside the TS transform.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const built = join(root, 'dist', 'web', 'index.html');
const lock = join(root, 'dist', '.web-build.lock');
/** What the console build reads: its sources, the schema its documents are typed from, the shared maths. */
const inputs = ['apps/web', 'schema.gql', 'libs/finance/src', 'libs/core/src', 'package-lock.json'];

function newest(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    // src/gql is the build's own output (codegen).
    if (entry === 'node_modules' || join(path, entry) === join(root, 'apps/web/src/gql')) continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

function stale() {
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  return inputs.some((p) => newest(join(root, p)) > builtAt);
}

/**
 * The console tests (test/console.e2e-spec.ts, and GraphiQL in test/limits.e2e-spec.ts) load the
 * built console from the real server: build it (`npm run build:web`) when dist/web is missing or
 * older than its sources, so `npm test` works on a fresh clone; then copy it to a folder of this
 * run's own, which every test app serves (CCX_CONSOLE_DIR via CCX_TEST_CONSOLE_DIR): specs that
 * run `npm run build` (test/support/server-process.ts), or anyone's build in the checkout, empty
 * dist/ while tests run. A lock folder keeps two runs in one checkout from building at once.
 * Returns the copy's path (undefined without the console's sources).
 */
export function ensureConsoleBuilt() {
  // A partial checkout (test/root-private-folder copies dist and test/support only) has no console.
  if (!existsSync(join(root, 'apps', 'web'))) return undefined;
  mkdirSync(join(root, 'dist'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      else spawnSync(process.execPath, ['-e', 'setTimeout(() => {}, 500)']);
    }
  }
  try {
    if (stale()) {
      const started = Date.now();
      const npm = process.env.npm_execpath;
      const result = npm
        ? spawnSync(process.execPath, [npm, 'run', '--silent', 'build:web'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
        : spawnSync('npm', ['run', '--silent', 'build:web'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
      if (result.status !== 0) throw new Error(`the console build (npm run build:web) failed${result.error ? `: ${result.error.message}` : ''}`);
      process.stderr.write(`\nconsole built for the tests in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
    const copy = mkdtempSync(join(tmpdir(), 'ccx-console-'));
    cpSync(join(root, 'dist', 'web'), copy, { recursive: true });
    return copy;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
