// `npm start`: builds the server, then runs the API in this very process.
//
// Why not `npm run build && node dist/…/main.js`: npm runs a script through `sh -c`, and a shell
// running a `&&` list stays between npm and node. A process manager stops `npm start` by
// signalling npm, npm forwards the signal to the shell, the shell dies of it, and node (with its
// embedded PostgreSQL) is orphaned, still serving. Here the shell runs one simple command, which
// it replaces with node (`exec`), and node runs the API itself: the signal npm forwards reaches
// main.ts, which stops the API, then the database.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The npm that runs us (npm_execpath), else the one on PATH.
const npmCli = process.env.npm_execpath;
const build = npmCli
  ? spawnSync(process.execPath, [npmCli, 'run', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.error) {
  console.error(`CCX could not start: the build did not run (${build.error.message})`);
  process.exit(1);
}
if (build.status !== 0) process.exit(build.status ?? 1);
await import(pathToFileURL(join(root, 'dist', 'apps', 'api', 'src', 'main.js')).href);
