import { execSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { EmbeddedDatabase } from '../../apps/api/src/database/embedded-postgres.js';
import { createThrowawayDatabase, spawnApi, startEmbeddedOnFreePort, type ApiProcess } from '../../scripts/lib/api-process.js';

export { pickPort } from '../../scripts/lib/api-process.js';

/**
 * The real server as a child process (`node dist/apps/api/src/main.js`), for the specs that kill
 * it or take its database away (crash-safety, db-outage). Same approach as bench/usage.bench.ts.
 */

/** jest runs from the project root (rootDir). */
export const ROOT = process.cwd();

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---------------------------------------------------------------------------------------------
// The build: `npm run build` once, reused while the sources have not changed.
// ---------------------------------------------------------------------------------------------

const BUILD_INPUT_DIRS = ['apps', 'libs', 'migrations', 'bench', 'scripts'];
const BUILD_INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
const STAMP = join(ROOT, 'dist', '.e2e-build-stamp');
const MAIN_JS = join('dist', 'apps', 'api', 'src', 'main.js');

async function listTs(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listTs(path)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')) out.push(path);
  }
  return out;
}

/** sha256 over the path and content of every input of `npm run build`. */
async function sourceHash(): Promise<string> {
  const files = [...BUILD_INPUT_FILES.map((f) => join(ROOT, f))];
  for (const dir of BUILD_INPUT_DIRS) files.push(...(await listTs(join(ROOT, dir))));
  files.sort();
  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(relative(ROOT, f)).update('\0');
    hash.update(await readFile(f).catch(() => Buffer.alloc(0))).update('\0');
  }
  return hash.digest('hex');
}

/** A cross-process lock (the two specs may run in parallel jest workers): mkdir is atomic. */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `ccx-e2e-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      let alive = true;
      if (Number.isInteger(owner) && owner > 0) {
        try {
          process.kill(owner, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`the build lock ${lock} is still held by process ${owner}`);
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Runs `npm run build` unless dist/.e2e-build-stamp says dist was built from exactly the current
 * sources; then copies dist into a folder of the caller's own, so a rebuild elsewhere (another
 * spec, the lead's `npm run build`, which starts with rm -rf dist) cannot change the server under
 * a running test. Returns the path of main.js in that copy; the copy resolves its packages
 * through a node_modules link and is ESM through a copy of package.json.
 */
export async function builtServer(into: string): Promise<string> {
  await withBuildLock(async () => {
    const hash = await sourceHash();
    const stamp = await readFile(STAMP, 'utf8').catch(() => '');
    if (stamp.trim() !== hash) {
      try {
        execSync('npm run build', { cwd: ROOT, stdio: 'pipe', timeout: 240_000 });
      } catch (error) {
        const e = error as { stdout?: Buffer; stderr?: Buffer; message?: string };
        throw new Error(`npm run build failed: ${e.message}\n${String(e.stdout ?? '').slice(-4000)}\n${String(e.stderr ?? '').slice(-2000)}`);
      }
      await writeFile(STAMP, hash);
    }
    await cp(join(ROOT, 'dist'), join(into, 'dist'), { recursive: true });
  });
  await writeFile(join(into, 'package.json'), await readFile(join(ROOT, 'package.json')));
  await symlink(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir');
  return join(into, MAIN_JS);
}

// ---------------------------------------------------------------------------------------------
// Databases the test owns.
// ---------------------------------------------------------------------------------------------

/** A temp folder PostgreSQL (running as the `postgres` user when we are root) can reach. */
export async function tempRoot(prefix: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  await chmod(root, 0o755);
  return root;
}

export interface OwnedDatabase {
  url: string;
  /** The embedded server, when this test started one (null on the DATABASE_URL server). */
  embedded: EmbeddedDatabase | null;
  dataDir: string | null;
  port: number | null;
  drop(): Promise<void>;
}

/** An embedded PostgreSQL of the test's own, in `root`/pg, on a free port. */
export async function ownEmbeddedDatabase(root: string): Promise<OwnedDatabase> {
  const dataDir = join(root, 'pg');
  const { embedded, port } = await startEmbeddedOnFreePort(dataDir);
  const owned: OwnedDatabase = {
    url: embedded.url,
    embedded,
    dataDir,
    port,
    drop: async () => {
      await owned.embedded?.stop();
    },
  };
  return owned;
}

/** With DATABASE_URL (CI's second run): a fresh database on that server; else an embedded one. */
export async function ownDatabase(root: string, prefix: string): Promise<OwnedDatabase> {
  const external = process.env.DATABASE_URL;
  if (!external) return ownEmbeddedDatabase(root);
  // The run id lets global-teardown drop it even if this file never reaches its afterAll.
  const name = `ccx_${prefix}_${process.env.CCX_TEST_RUN_ID ?? 'x'}_${randomBytes(4).toString('hex')}`;
  const { url, drop } = await createThrowawayDatabase(external, name);
  return { url, embedded: null, dataDir: null, port: null, drop };
}

// ---------------------------------------------------------------------------------------------
// The server process.
// ---------------------------------------------------------------------------------------------

export type ServerProcess = ApiProcess;

export interface StartOptions {
  mainJs: string;
  /** Working directory (schema.gql is written there). */
  cwd: string;
  databaseUrl: string;
  env?: Record<string, string>;
}

/** Starts the API on a port of its own and waits until /health answers 200 (the database is reachable). */
export function startServerProcess(options: StartOptions): Promise<ServerProcess> {
  // CCX_E2E_SERVER_LOG=<file>: a copy of everything the server prints, for diagnosing a failure.
  const copy = process.env.CCX_E2E_SERVER_LOG;
  return spawnApi({
    mainJs: options.mainJs,
    cwd: options.cwd,
    // CCX_ALLOW_PRIVATE_URLS: the specs' webhook receivers listen on 127.0.0.1.
    env: { ...process.env, DATABASE_URL: options.databaseUrl, CCX_DATA_DIR: join(options.cwd, 'unused-data'), CCX_ALLOW_PRIVATE_URLS: 'true', ...options.env },
    onLine: copy ? (line) => appendFileSync(copy, `${line}\n`) : undefined,
    startTimeoutMs: 120_000,
  });
}

// ---------------------------------------------------------------------------------------------
// A small HTTP client over the global fetch.
// ---------------------------------------------------------------------------------------------

export interface Answer<T = any> {
  status: number;
  /** The raw body text. */
  text: string;
  body: T;
  ms: number;
}

export async function call<T = any>(base: string, path: string, init: { method?: string; body?: unknown; key?: string | null; timeoutMs?: number } = {}): Promise<Answer<T>> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...(init.key ? { authorization: `Bearer ${init.key}` } : {}) },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 60_000),
  });
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, text, body, ms: performance.now() - t0 };
}

export function gqlCall<T = any>(base: string, query: string, variables: Record<string, unknown> = {}, key: string | null = null, timeoutMs?: number): Promise<Answer<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }>> {
  return call(base, '/graphql', { body: { query, variables }, key, timeoutMs });
}

/** A GraphQL call that must succeed; its data. */
export async function gqlOk<T = any>(base: string, query: string, variables: Record<string, unknown> = {}, key: string | null = null): Promise<T> {
  const res = await gqlCall<T>(base, query, variables, key);
  if (res.status !== 200 || res.body?.errors?.length || !res.body?.data) throw new Error(`GraphQL ${res.status}: ${res.text.slice(0, 1000)}`);
  return res.body.data;
}

export interface Org {
  id: string;
  key: string;
}

/** Registers an organization through the API; the operator approves sellers (they start PENDING). */
export async function registerOrg(base: string, role: 'BUYER' | 'SELLER', operatorKey: string): Promise<Org> {
  const d = await gqlOk(
    base,
    `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`,
    { input: { name: `${role.toLowerCase()}-${randomBytes(3).toString('hex')}`, role } },
  );
  const org = { id: d.registerOrganization.organization.id, key: d.registerOrganization.apiKey };
  if (role !== 'BUYER') await gqlOk(base, `mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: org.id }, operatorKey);
  return org;
}

/** What no answer may contain (SPEC §11): a stack frame, SQL, driver internals, a connection string. */
export const LEAK = /\n\s+at\s|\bat\s+\S+\s+\(\S+:\d+:\d+\)|\.(ts|js):\d+|\bSELECT\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|ECONNREFUSED|ECONNRESET|QueryFailedError|TypeORM|postgres:\/\/|pg_advisory/i;
