import { rm } from 'node:fs/promises';
import pg from 'pg';

/** Drops this run's databases, then stops the embedded server and removes its folder. */
export default async function globalTeardown() {
  const adminUrl = process.env.CCX_TEST_ADMIN_URL;
  const runId = process.env.CCX_TEST_RUN_ID;
  if (adminUrl && runId) {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`ccx\\_%${runId}%`]);
      for (const { datname } of rows) {
        await client.query(`ALTER DATABASE "${datname}" WITH IS_TEMPLATE false`);
        await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      }
    } finally {
      await client.end();
    }
  }
  if (globalThis.__CCX_CONSOLE_COPY__) await rm(globalThis.__CCX_CONSOLE_COPY__, { recursive: true, force: true });
  const state = globalThis.__CCX_EMBEDDED__;
  if (state) {
    await state.server.stop();
    await rm(state.root, { recursive: true, force: true });
  }
}
