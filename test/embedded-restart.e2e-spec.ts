import { readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { spawnApi, type ApiProcess } from '../scripts/lib/api-process.js';
import { builtServer, gqlOk, pickPort, pollUntil, registerOrg, tempRoot } from './support/server-process.js';

/**
 * Issue 12 item 6: the real server (`node dist/apps/api/src/main.js`) on its embedded
 * PostgreSQL, killed with SIGKILL. Its PostgreSQL outlives it (re-parented to PID 1); the next
 * start on the same folder must find it through postmaster.pid, stop it cleanly and go on, with
 * every row kept. A start that cannot succeed says why in words, never `undefined`.
 */
const OPERATOR_KEY = `ccx-restart-operator-${Date.now()}-key`;
let root: string;
let mainJs: string;
let dataDir: string;
let pgPort: number;
const started: ApiProcess[] = [];

beforeAll(async () => {
  root = await tempRoot('ccx-kill9-');
  mainJs = await builtServer(root);
  dataDir = join(root, 'data', 'pg');
  pgPort = await pickPort();
}, 300_000);

afterAll(async () => {
  for (const api of started) await api.stop(5_000);
  // A PostgreSQL still running on OUR folder (a failed assertion): stop it by its own lock file.
  const pid = await postmasterPid();
  if (pid && alive(pid)) {
    process.kill(pid, 'SIGINT');
    await pollUntil('our PostgreSQL to stop', () => !alive(pid), 30_000).catch(() => process.kill(pid, 'SIGKILL'));
  }
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', CCX_DATA_DIR: dataDir, CCX_PG_PORT: String(pgPort), CCX_OPERATOR_KEY: OPERATOR_KEY, CCX_WEBHOOK_INTERVAL_MS: '0', ...extra };
  delete e.DATABASE_URL; // the embedded path, even in CI's external-PostgreSQL run
  return e;
}

async function start(extra: Record<string, string> = {}): Promise<ApiProcess> {
  const api = await spawnApi({ mainJs, cwd: root, env: env(extra), startTimeoutMs: 120_000 });
  started.push(api);
  return api;
}

async function postmasterPid(): Promise<number | null> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(text?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('restarts after kill -9: the PostgreSQL left running on its folder is stopped cleanly, and every row is kept', async () => {
  const first = await start();
  const org = await registerOrg(first.base, 'BUYER', OPERATOR_KEY);
  const leftover = await postmasterPid();
  expect(leftover).not.toBeNull();

  process.kill(first.pid, 'SIGKILL');
  await first.exit;
  // The database survived its parent: that is what the next start finds.
  expect(alive(leftover!)).toBe(true);

  const second = await start();
  expect(alive(leftover!)).toBe(false);
  expect(second.output()).toMatch(/PostgreSQL left running/);
  // The organization and its key survived.
  expect(await gqlOk(second.base, `{ me { id } }`, {}, org.key)).toEqual({ me: { id: org.id } });

  // A clean stop leaves nothing behind.
  const pid = await postmasterPid();
  await second.stop(15_000);
  expect(second.output()).not.toMatch(/undefined/);
  expect(pid === null || !alive(pid)).toBe(true);
}, 240_000);

it('a start that cannot succeed says why, not `undefined`', async () => {
  // Someone else holds the PostgreSQL port: PostgreSQL exits at once.
  const blocker: Server = createServer();
  await new Promise<void>((resolve, reject) => blocker.once('error', reject).listen(pgPort, '127.0.0.1', resolve));
  try {
    const error = await start().then(
      () => null,
      (e: Error) => e,
    );
    expect(error).not.toBeNull();
    const lines = error!.message;
    expect(lines).not.toMatch(/^undefined$/m);
    expect(lines).toMatch(/PostgreSQL did not start/);
    expect(lines).toMatch(new RegExp(`port ${pgPort}`));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
}, 120_000);
