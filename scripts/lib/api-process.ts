/**
 * Ports, and the built API (`node dist/apps/api/src/main.js`) as a child process. One
 * implementation for the e2e specs that kill the server or take its database away
 * (test/support/server-process.ts) and for the demo and the benches (scripts/lib/local-server.ts).
 *
 * Why not "find a free port, close it, pass it on": jest workers start thousands of short-lived
 * supertest servers on kernel-chosen (ephemeral) ports, so a port found free can be taken by one of
 * them before the child binds it — and that stranger even answers /health. So:
 * - the API listens on PORT=0 and reports the port the kernel gave it over an IPC message
 *   (main.ts), so the address we talk to is its own;
 * - a port we must choose ourselves (an embedded PostgreSQL, which a test may restart on the same
 *   port) is picked outside the kernel's ephemeral range, where no `listen(0)` ever lands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../apps/api/src/database/embedded-postgres.js';

/** The kernel's ephemeral port range (Linux); the usual default elsewhere. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port of 127.0.0.1 outside the ephemeral range (and never PostgreSQL's 5432). */
export async function pickPort(avoid: number[] = []): Promise<number> {
  const [ephemeralLow, ephemeralHigh] = ephemeralRange();
  // Below the ephemeral range when there is room for it, else above it.
  const [min, max] = ephemeralLow > 12_000 ? [10_000, ephemeralLow - 1] : [ephemeralHigh + 1, 65_535];
  for (let i = 0; i < 200; i++) {
    const port = randomInt(min, max + 1);
    if (port === 5432 || avoid.includes(port)) continue;
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port in ${min}-${max}`);
}

/**
 * An embedded PostgreSQL in `dataDir` on a port of pickPort(); another port is tried when the
 * start fails (two processes can still pick the same port at the same instant).
 */
export async function startEmbeddedOnFreePort(dataDir: string, attempts = 3): Promise<{ embedded: EmbeddedDatabase; port: number }> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = await pickPort();
    try {
      return { embedded: await startEmbeddedPostgres({ dataDir, port }), port };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** A new, empty database `name` on the server of `serverUrl`: its URL, and how to drop it. */
export async function createThrowawayDatabase(serverUrl: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export interface ApiProcess {
  pid: number;
  /** http://127.0.0.1:<port> */
  base: string;
  port: number;
  child: ChildProcess;
  /** Resolves when the process has exited (with how). */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited(): boolean;
  /** The last lines the server printed. */
  output(): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnApiOptions {
  mainJs: string;
  /** Working directory (the API writes schema.gql there). */
  cwd: string;
  /** The API's whole environment; PORT is set to 0 and NODE_OPTIONS removed. */
  env: NodeJS.ProcessEnv;
  /** Node flags for the API process (e.g. `--trace-gc`), before the script. */
  nodeArgs?: string[];
  /** Every line the server prints, as it prints it. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How long to wait for the port and then for /health 200 (the database is reachable). */
  startTimeoutMs?: number;
}

const KEEP_LINES = 300;

/** Starts the API and resolves once it listens and /health answers 200 on its own port. */
export async function spawnApi(options: SpawnApiOptions): Promise<ApiProcess> {
  const env: NodeJS.ProcessEnv = { ...options.env, PORT: '0' };
  // jest's flags are not the server's business.
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.mainJs], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const recent: string[] = [];
  const lines = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') => {
    let pending = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line) continue;
        recent.push(line);
        if (recent.length > KEEP_LINES) recent.shift();
        options.onLine?.(line, name);
      }
    });
  };
  lines(child.stdout, 'stdout');
  lines(child.stderr, 'stderr');

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const output = () => recent.join('\n');
  const stop = async (graceMs = 15_000) => {
    if (exitInfo !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 180_000);
  const failure = (why: string) => new Error(`${why}:\n${recent.slice(-60).join('\n')}`);

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(failure('the API did not report its port in time')), deadline - Date.now());
      child.on('message', (message: { type?: string; port?: number }) => {
        if (message?.type === 'ccx:listening' && Number.isInteger(message.port)) {
          clearTimeout(timer);
          resolve(message.port!);
        }
      });
      void exit.then((how) => {
        clearTimeout(timer);
        reject(failure(`the API exited during start (${JSON.stringify(how)})`));
      });
    });
    // The channel was only for the port; without it the child's lifetime is its own.
    if (child.connected) child.disconnect();
    const base = `http://127.0.0.1:${port}`;
    for (;;) {
      if (exitInfo !== null) throw failure(`the API exited during start (${JSON.stringify(exitInfo)})`);
      if (Date.now() > deadline) throw failure(`the API did not answer ${base}/health with 200 in time`);
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // the database is not reachable yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { pid: child.pid!, base, port, child, exit, exited: () => exitInfo !== null, output, stop };
  } catch (error) {
    await stop(2_000);
    throw error;
  }
}
