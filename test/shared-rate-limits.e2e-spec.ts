import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { builtServer, gqlCall, ownDatabase, registerOrg, startServerProcess, tempRoot, type Answer, type OwnedDatabase, type ServerProcess } from './support/server-process.js';

/**
 * Issue 12 item 14: with REDIS_URL set, the rate-limit buckets live in Redis, shared by every API
 * process — two processes behind a load balancer allow the configured rate once, not twice.
 * Runs against the machine's Redis at 127.0.0.1:6379; skipped (saying so) when it is not up.
 */
const REDIS_URL = 'redis://127.0.0.1:6379';
const redisUp = (() => {
  try {
    return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { timeout: 5_000 }).toString().trim() === 'PONG';
  } catch {
    return false;
  }
})();
if (!redisUp) console.log('shared-rate-limits: skipped — no Redis answers `redis-cli -h 127.0.0.1 ping` (start redis-server to run it)');
const itWithRedis = redisUp ? it : it.skip;

const OPERATOR_KEY = `ccx-shared-limits-operator-${randomBytes(8).toString('hex')}`;
const BURST = 10;
let root: string;
let db: OwnedDatabase | null = null;
const servers: ServerProcess[] = [];

afterAll(async () => {
  for (const s of servers) await s.stop(5_000);
  await db?.drop().catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

itWithRedis('two API processes share one organization limit through Redis', async () => {
  root = await tempRoot('ccx-shared-limits-');
  const mainJs = await builtServer(root);
  db = await ownDatabase(root, 'limits');
  // 60 a minute, 10 at once, per organization; the per-address limit off (registration is anonymous).
  const env = {
    NODE_ENV: 'test',
    CCX_OPERATOR_KEY: OPERATOR_KEY,
    CCX_WEBHOOK_INTERVAL_MS: '0',
    REDIS_URL,
    CCX_RATE_LIMIT_PER_KEY: '60',
    CCX_RATE_LIMIT_PER_KEY_BURST: String(BURST),
    CCX_RATE_LIMIT_PER_IP: '0',
  };
  const a = await startServerProcess({ mainJs, cwd: root, databaseUrl: db.url, env });
  servers.push(a);
  const b = await startServerProcess({ mainJs, cwd: root, databaseUrl: db.url, env });
  servers.push(b);
  // A fresh organization: its bucket in Redis is new, whatever ran before.
  const buyer = await registerOrg(a.base, 'BUYER', OPERATOR_KEY);

  const ask = (base: string) => gqlCall(base, `{ me { id } }`, {}, buyer.key);
  const fromA: Answer[] = [];
  for (let i = 0; i < BURST; i++) fromA.push(await ask(a.base));
  const fromB: Answer[] = [];
  for (let i = 0; i < BURST; i++) fromB.push(await ask(b.base));

  const allowed = (list: Answer[]) => list.filter((r) => r.status === 200 && !r.body.errors).length;
  // A spent the burst; B sees the same bucket. (At 1 a second, a refill or two may land between.)
  expect(allowed(fromA)).toBe(BURST);
  expect(allowed(fromB)).toBeLessThanOrEqual(2);
  const refused = fromB.filter((r) => r.status === 429);
  expect(refused.length).toBeGreaterThanOrEqual(BURST - 2);
  expect(refused[0]?.body?.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');

  // The operator is never limited, on either process.
  for (const s of [a, b]) expect((await gqlCall(s.base, `{ me { id } }`, {}, OPERATOR_KEY)).status).toBe(200);
}, 300_000);
