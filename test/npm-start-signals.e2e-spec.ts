import { spawn, type ChildProcess } from 'node:child_process';
import { access, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtServer, pickPort, pollUntil, ROOT, tempRoot } from './support/server-process.js';

/**
 * Issue 12 item 7: a process manager stops `npm start` by signalling the process it started —
 * npm, which runs the script through `sh -c`. SIGTERM or SIGINT to that one process must stop
 * the API and its embedded PostgreSQL within 10 s, leaving nothing running.
 *
 * The test runs the project's real `start` script with `npm start` in a folder of its own (the
 * built server copied there; its `build` script is a no-op, the build is done once beforehand),
 * on PORT=0 and a free CCX_PG_PORT, and signals only the npm process.
 */
const STOP_WITHIN_MS = 10_000;
const roots: string[] = [];
const leftovers: number[] = [];

afterAll(async () => {
  for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const root of roots) await rm(root, { recursive: true, force: true });
}, 60_000);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

async function npmStartFolder(): Promise<string> {
  const root = await tempRoot('ccx-npm-start-');
  roots.push(root);
  await builtServer(root);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  pkg.scripts.build = 'true';
  await writeFile(join(root, 'package.json'), JSON.stringify(pkg, null, 2));
  // The launcher, when the start script uses one (it is not part of the build output).
  const launcher = join(ROOT, 'scripts', 'start.mjs');
  if (await access(launcher).then(() => true, () => false)) {
    await mkdir(join(root, 'scripts'), { recursive: true });
    await copyFile(launcher, join(root, 'scripts', 'start.mjs'));
  }
  return root;
}

interface Started {
  npm: ChildProcess;
  exited: Promise<void>;
  apiPid: number;
  postmasterPid: number;
  output: () => string;
}

async function npmStart(root: string): Promise<Started> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PORT: '0',
    CCX_DATA_DIR: join(root, 'data', 'pg'),
    CCX_PG_PORT: String(await pickPort()),
    CCX_WEBHOOK_INTERVAL_MS: '0',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
  delete env.DATABASE_URL;
  delete env.NODE_OPTIONS;
  const npm = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  npm.stdout!.on('data', (c) => (text += c));
  npm.stderr!.on('data', (c) => (text += c));
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
  // The API logs where it listens (pino JSON: its pid is on every line).
  const line = await pollUntil('the API to say where it listens', () => text.split('\n').find((l) => /CCX API on http:\/\/localhost:\d+\/graphql/.test(l)), 180_000, 100).catch((e) => {
    throw new Error(`${(e as Error).message}\n${text.slice(-4000)}`);
  });
  const apiPid = Number(/"pid":(\d+)/.exec(line)?.[1]);
  const port = Number(/localhost:(\d+)\/graphql/.exec(line)?.[1]);
  expect(Number.isInteger(apiPid) && apiPid !== npm.pid).toBe(true);
  leftovers.push(apiPid);
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  expect(res.status).toBe(200);
  const postmasterPid = Number((await readFile(join(root, 'data', 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  leftovers.push(postmasterPid);
  return { npm, exited, apiPid, postmasterPid, output: () => text };
}

it.each(['SIGTERM', 'SIGINT'] as const)('%s to the npm process stops the API and PostgreSQL within 10 s', async (signal) => {
  const root = await npmStartFolder();
  const s = await npmStart(root);
  expect(alive(s.apiPid) && alive(s.postmasterPid)).toBe(true);

  const sentAt = Date.now();
  s.npm.kill(signal);
  const npmExited = () => s.npm.exitCode !== null || s.npm.signalCode !== null;
  const gone = await pollUntil('npm, the API and PostgreSQL to be gone', () => !alive(s.apiPid) && !alive(s.postmasterPid) && npmExited(), STOP_WITHIN_MS, 50).then(
    () => true,
    () => false,
  );
  const report = { signal, api: alive(s.apiPid) ? 'running' : 'gone', postgres: alive(s.postmasterPid) ? 'running' : 'gone', npmExited: npmExited(), ms: Date.now() - sentAt };
  expect([report, gone ? '' : s.output().slice(-3000)]).toEqual([{ signal, api: 'gone', postgres: 'gone', npmExited: true, ms: report.ms }, '']);
  await s.exited;
  // Stopped cleanly: PostgreSQL removed its lock file.
  await expect(access(join(root, 'data', 'pg', 'postmaster.pid'))).rejects.toThrow();
}, 300_000);
