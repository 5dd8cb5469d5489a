import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type AppConfig } from '../../apps/api/src/config/app-config.js';
import { startServer, type RunningServer } from '../../apps/api/src/bootstrap.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const OPERATOR_KEY = 'ccx-test-operator-key-0123456789';
export const CLOCK_START = '2026-01-05T12:00:00.000Z';
/** Encrypts providers' upstream keys in tests (every app of a test file shares one database). */
export const TEST_GATEWAY_KEY = '7e'.repeat(32);

export interface GqlResponse<T = any> {
  status: number;
  data: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
  /** The code of the first error, if any. */
  code?: string;
}

export interface TestApp {
  app: INestApplication;
  db: TestDatabase;
  server: RunningServer;
  schemaFile: string;
  /** POST /graphql with an optional API key. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GqlResponse<T>>;
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * The configuration every test app runs with (HTTP or not): a test clock at CLOCK_START, no
 * timers (tests drive servicing, webhooks and refills), the test operator and gateway keys.
 */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    CCX_OPERATOR_KEY: OPERATOR_KEY,
    CCX_TEST_CLOCK: 'true',
    CCX_CLOCK_START: CLOCK_START,
    // Servicing runs after each clock change; no timer, so tests are deterministic.
    CCX_SERVICING_INTERVAL_MS: '0',
    // Webhook and auto-refill workers: no timer either; tests call dispatchDue / runDue.
    CCX_WEBHOOK_INTERVAL_MS: '0',
    // Test receivers and providers listen on 127.0.0.1; test/ssrf.e2e-spec.ts turns this off.
    CCX_ALLOW_PRIVATE_URLS: 'true',
    CCX_GATEWAY_SECRET_KEY: TEST_GATEWAY_KEY,
    // The run's copy of the built console (global setup): dist/ may be rebuilt meanwhile.
    ...(process.env.CCX_TEST_CONSOLE_DIR ? { CCX_CONSOLE_DIR: process.env.CCX_TEST_CONSOLE_DIR } : {}),
    ...env,
  });
}

/** The real app (same bootstrap as main.ts) on a fresh database of this test file's own. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const schemaFile = join(await mkdtemp(join(tmpdir(), 'ccx-schema-')), 'schema.gql');
  const config = testConfig(db.url, env);
  const server = await startServer(config, { listen: false, schemaFile });
  const httpServer = server.app.getHttpServer();
  return {
    app: server.app,
    db,
    server,
    schemaFile,
    http: () => request(httpServer),
    async gql(query, variables = {}, key = null) {
      const req = request(httpServer).post('/graphql').set('content-type', 'application/json');
      if (key) req.set('authorization', `Bearer ${key}`);
      const res = await req.send({ query, variables });
      return { status: res.status, data: res.body?.data ?? null, errors: res.body?.errors, code: res.body?.errors?.[0]?.extensions?.code };
    },
    async close() {
      await server.close();
      await db.drop();
    },
  };
}
