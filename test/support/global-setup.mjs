// Plain JavaScript: jest loads global setup through Node itself, outside its TypeScript transform.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reachableEmbeddedPostgres } from './postgres-runtime.mjs';
import { ensureConsoleBuilt } from './browser-build.mjs';

/**
 * Starts one real PostgreSQL for the whole run — the embedded server in a fresh temp folder, or
 * the server named by DATABASE_URL — and tells the test files where it is. The first test file
 * migrates a template database; every file clones it (test/support/database.ts).
 */
export default async function globalSetup() {
  // The console's tests load the built console: built when missing or stale, served from a copy.
  const consoleDir = ensureConsoleBuilt();
  if (consoleDir) {
    process.env.CCX_TEST_CONSOLE_DIR = consoleDir;
    // Teardown removes only the copy this process made (a child run may inherit the variable).
    globalThis.__CCX_CONSOLE_COPY__ = consoleDir;
  }
  const runId = randomBytes(4).toString('hex');
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const root = await mkdtemp(join(tmpdir(), 'ccx-test-'));
    // PostgreSQL runs as the `postgres` user when we are root: it must reach the folder.
    await chmod(root, 0o755);
    const port = await freePort();
    // As root in a checkout under a private folder, `postgres` runs the binaries from a copy.
    const EmbeddedPostgres = await reachableEmbeddedPostgres();
    const server = new EmbeddedPostgres({
      databaseDir: join(root, 'pg'),
      port,
      user: 'postgres',
      password: 'ccx-test',
      persistent: false,
      createPostgresUser: true,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
      onLog: () => {},
      onError: (e) => console.error(String(e)),
    });
    await server.initialise();
    await server.start();
    globalThis.__CCX_EMBEDDED__ = { server, root };
    adminUrl = `postgres://postgres:ccx-test@127.0.0.1:${port}/postgres`;
  }
  process.env.CCX_TEST_ADMIN_URL = adminUrl;
  process.env.CCX_TEST_TEMPLATE = `ccx_tmpl_${runId}`;
  process.env.CCX_TEST_RUN_ID = runId;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
