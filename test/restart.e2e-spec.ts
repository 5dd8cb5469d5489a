import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { Ledger } from '@ccx/ledger';
import { loadConfig } from '../apps/api/src/config/app-config.js';
import { startServer } from '../apps/api/src/bootstrap.js';
import { dataSourceOptions } from '../apps/api/src/database/data-source.js';
import { PLATFORM_SHARDS } from '../apps/api/src/ledger/platform-accounts.js';
import { OPERATOR_KEY } from './support/app.js';
import { pickPort } from './support/server-process.js';

/**
 * The zero-setup path itself: no DATABASE_URL, so the server starts its own embedded PostgreSQL
 * in CCX_DATA_DIR, migrates it, serves, stops it, and a second start keeps every row.
 */
describe('embedded database start, stop and restart', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ccx-restart-'));
    // Reachable by the `postgres` user (as root, PostgreSQL runs as it). A private (0700) folder as
    // root is test/root-private-folder.e2e-spec.ts: the data then lives in a stand-in folder.
    await chmod(root, 0o755);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps the data across a restart on the same folder', async () => {
    const env = { NODE_ENV: 'test', CCX_DATA_DIR: join(root, 'nested', 'pg'), CCX_PG_PORT: String(await pickPort()), CCX_OPERATOR_KEY: OPERATOR_KEY };
    const first = await startServer(loadConfig(env), { listen: false, schemaFile: join(root, 'schema.gql') });
    expect(first.databaseUrl).toContain(`127.0.0.1:${env.CCX_PG_PORT}`);
    expect((await request(first.app.getHttpServer()).get('/health')).status).toBe(200);

    const ds = new DataSource(dataSourceOptions(first.databaseUrl));
    await ds.initialize();
    const ledger = new Ledger();
    const src = await ledger.createAccount(ds.manager, { code: 'restart:src', asset: 'USD', allowNegative: true, allowPositive: true });
    const dst = await ledger.createAccount(ds.manager, { code: 'restart:dst', asset: 'USD', allowNegative: false, allowPositive: true });
    await ledger.transfer(ds.manager, { idempotencyKey: 'restart-1', kind: 'deposit', effectiveAt: new Date('2026-01-05T12:00:00Z'), debitAccountId: src.id, creditAccountId: dst.id, amount: '12.34' });
    // An older database: its platform accounts were made with 8 shards (before PLATFORM_SHARDS
    // grew), and one holds a balance. The second start grows them to PLATFORM_SHARDS without
    // moving that balance (and without refusing to start over their definition).
    const platform: { id: string; asset: string }[] = await ds.query(`SELECT id::text, asset FROM ledger_accounts WHERE owner_ref = 'platform' ORDER BY id`);
    const ids = platform.map((a) => a.id);
    expect(ids.length).toBeGreaterThan(1);
    await ds.query(`ALTER TABLE ledger_accounts DISABLE TRIGGER ledger_accounts_immutable`);
    await ds.query(`DELETE FROM ledger_balances WHERE account_id = ANY($1::bigint[]) AND shard >= 8`, [ids]);
    await ds.query(`UPDATE ledger_accounts SET shards = 8 WHERE id = ANY($1::bigint[])`, [ids]);
    await ds.query(`ALTER TABLE ledger_accounts ENABLE TRIGGER ledger_accounts_immutable`);
    const usdPlatform = platform.find((a) => a.asset === 'USD')!.id;
    await new Ledger().transfer(ds.manager, { idempotencyKey: 'restart-2', kind: 'fee', effectiveAt: new Date('2026-01-05T12:00:00Z'), debitAccountId: src.id, creditAccountId: usdPlatform, amount: '5.00' });
    await ds.destroy();
    await first.close();
    // The embedded server is really down: its lock file is gone.
    await expect(stat(join(env.CCX_DATA_DIR, 'postmaster.pid'))).rejects.toThrow();

    const second = await startServer(loadConfig(env), { listen: false, schemaFile: join(root, 'schema.gql') });
    try {
      const res = await request(second.app.getHttpServer())
        .post('/graphql')
        .set('authorization', `Bearer ${OPERATOR_KEY}`)
        .send({ query: '{ ledgerIntegrity { balanced accountsChecked transactionsChecked } }' });
      const ds2 = new DataSource(dataSourceOptions(second.databaseUrl));
      await ds2.initialize();
      const [{ accounts, transactions }] = await ds2.query(
        `SELECT (SELECT count(*)::int FROM ledger_accounts) AS accounts, (SELECT count(*)::int FROM ledger_transactions) AS transactions`,
      );
      expect(res.body.data.ledgerIntegrity).toEqual({ balanced: true, accountsChecked: accounts, transactionsChecked: transactions });
      expect(transactions).toBe(2);
      const grown: { id: string; shards: number; cells: number }[] = await ds2.query(
        `SELECT a.id::text, a.shards, count(b.shard)::int AS cells FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
          WHERE a.id = ANY($1::bigint[]) GROUP BY a.id, a.shards ORDER BY a.id`,
        [ids],
      );
      expect(grown).toEqual(ids.map((id) => ({ id, shards: PLATFORM_SHARDS, cells: PLATFORM_SHARDS })));
      expect((await ledger.balance(ds2.manager, usdPlatform)).posted.toFixed(2)).toBe('5.00');
      // The second start created nothing new: no second operator, no second set of platform accounts.
      expect(await ds2.query(`SELECT count(*)::int AS n FROM organizations`)).toEqual([{ n: 1 }]);
      const again = await new Ledger().accountByCode(ds2.manager, 'restart:dst');
      expect((await ledger.balance(ds2.manager, again!.id)).posted.toFixed(2)).toBe('12.34');
      await ds2.destroy();
    } finally {
      await second.close();
    }
  });
});
