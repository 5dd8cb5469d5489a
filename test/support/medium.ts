import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal } from '@ccx/core';
import { Ledger } from '@ccx/ledger';
import { AppModule } from '../../apps/api/src/app.module.js';
import { ClockService } from '../../apps/api/src/clock/clock.service.js';
import type { AppConfig } from '../../apps/api/src/config/app-config.js';
import { APP_CONFIG } from '../../apps/api/src/config/tokens.js';
import { CreditsService } from '../../apps/api/src/credits/credits.service.js';
import { PlatformAccounts, type PlatformAccountName } from '../../apps/api/src/ledger/platform-accounts.js';
import { OrganizationsService } from '../../apps/api/src/organizations/organizations.service.js';
import { WalletsService } from '../../apps/api/src/wallets/wallets.service.js';
import { CatalogService } from '../../apps/api/src/catalog/catalog.service.js';
import { parseCreateListingCommand } from '../../apps/api/src/listings/domain/create-listing-command.js';
import { ListingsService } from '../../apps/api/src/listings/listings.service.js';
import { testConfig } from './app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/**
 * The medium tier (STYLE.md): the app's own modules in a Nest testing module on a database of
 * this test file's own, with no HTTP server. A spec calls the services as a resolver would and
 * reads what they left in the real ledger; it never mocks the database.
 */
export interface MediumApp {
  db: TestDatabase;
  module: TestingModule;
  /** The app's EntityManager, for the `…InTransaction` and read methods that take one. */
  manager: EntityManager;
  /** A provider of the app (a service), as Nest built it. */
  get<T>(type: Type<T>): T;
  clock: ClockService;
  /** The configuration the app runs with (the business rules among it). */
  config: AppConfig;
  ledger: Ledger;
  /** An account's balance by id: posted, held and available (posted − held). */
  balance(accountId: string): Promise<{ posted: Decimal; held: Decimal; available: Decimal }>;
  /** The posted balance of a platform account (revenue, treasury, inventory, consumed, …). */
  platform(name: PlatformAccountName): Promise<Decimal>;
  /** The posted balance of an organization's USD wallet. */
  wallet(organizationId: string): Promise<Decimal>;
  /** A credit block's status and the posted credits of its ledger account. */
  block(blockId: string): Promise<{ status: string; ledgerAccountId: string; credits: Decimal }>;
  /** Moves the business clock forward (servicing runs up to `to`, as after advanceTestClock). */
  advanceTo(to: string | Date): Promise<void>;
  /** The integrity check an operator runs (every transaction balanced, balances = entries). */
  integrity(): Promise<{ balanced: boolean; problems: string[] }>;
  close(): Promise<void>;
}

/** Builds and starts the app's modules (with their start-up hooks: platform accounts, clock, operator). */
export async function startMediumApp(env: Record<string, string> = {}): Promise<MediumApp> {
  const db = await createTestDatabase();
  // GraphQL still builds its schema at start: into a folder of this test's own, never the repository's schema.gql.
  const schemaDir = await mkdtemp(join(tmpdir(), 'ccx-medium-'));
  let module: TestingModule | null = null;
  try {
    module = await Test.createTestingModule({
      imports: [AppModule.forRoot({ config: testConfig(db.url, env), databaseUrl: db.url, schemaFile: join(schemaDir, 'schema.gql') })],
    }).compile();
    await module.init();
  } catch (error) {
    await module?.close();
    await db.drop();
    await rm(schemaDir, { recursive: true, force: true });
    throw error;
  }
  const started = module;
  const ledger = started.get(Ledger);
  // The app's own connection (it knows the entities; the test database's does not).
  const dataSource = started.get(DataSource);
  const manager = dataSource.manager;
  const balance = async (accountId: string) => {
    const b = await ledger.balance(manager, accountId);
    return { posted: b.posted, held: b.held, available: b.available };
  };
  return {
    db,
    module: started,
    manager,
    get: (type) => started.get(type),
    clock: started.get(ClockService),
    config: started.get<symbol, AppConfig>(APP_CONFIG),
    ledger,
    balance,
    platform: async (name) => (await balance(started.get(PlatformAccounts).id(name))).posted,
    wallet: async (organizationId) => (await balance((await started.get(OrganizationsService).get(organizationId)).walletAccountId)).posted,
    block: async (blockId) => {
      const block = await started.get(CreditsService).getBlockInTransaction(manager, blockId);
      return { status: block.status, ledgerAccountId: block.ledgerAccountId, credits: (await balance(block.ledgerAccountId)).posted };
    },
    advanceTo: async (to) => {
      await started.get(ClockService).advanceTo(new Date(to));
    },
    integrity: async () => {
      const report = await ledger.verify(dataSource);
      return { balanced: report.balanced, problems: report.problems };
    },
    close: async () => {
      await started.close();
      await db.drop();
      await rm(schemaDir, { recursive: true, force: true });
    },
  };
}

/**
 * One medium app per spec file (or describe block), with the ledger's integrity checked after
 * every test: a use case that leaves an unbalanced ledger fails there, whatever it asserted.
 */
export function mediumAppPerBlock(env: Record<string, string> = {}): () => MediumApp {
  let m: MediumApp;
  beforeAll(async () => {
    m = await startMediumApp(env);
  });
  afterAll(async () => {
    await m?.close();
  });
  afterEach(async () => {
    expect(await m.integrity()).toEqual({ balanced: true, problems: [] });
  });
  return () => m;
}

// ---- a small world, through the services (what the GraphQL drivers do over HTTP) ------------

const suffix = () => Math.random().toString(36).slice(2, 8);

/** A registered organization; sellers and lenders approved, as the operator would. */
export async function organization(m: MediumApp, role: 'BUYER' | 'SELLER' | 'LENDER'): Promise<string> {
  const organizations = m.get(OrganizationsService);
  const { organization: org } = await organizations.register({ name: `${role.toLowerCase()}-${suffix()}`, role });
  if (role !== 'BUYER') await organizations.approve(org.id);
  return org.id;
}

/** An operator-recorded deposit into the organization's wallet. */
export async function deposit(m: MediumApp, organizationId: string, amount: string): Promise<void> {
  await m.get(WalletsService).recordDeposit({ organizationId, amount: new Decimal(amount), reference: `dep-${suffix()}` });
}

/** A seller's H100 listing (1 credit per GPU-hour), open from before the test clock to 2027. */
export async function listing(m: MediumApp, sellerId: string, gpuHours: string, wholesalePricePerGpuHour: string) {
  const gpu = await m.get(CatalogService).gpuType('H100');
  return m.get(ListingsService).create(
    parseCreateListingCommand(sellerId, gpu, {
      region: 'us-east',
      gpuHours,
      wholesalePricePerGpuHour,
      availableFrom: new Date('2026-01-01T00:00:00Z'),
      availableUntil: new Date('2027-12-31T00:00:00Z'),
    }),
  );
}
