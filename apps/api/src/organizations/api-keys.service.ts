import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Decimal, InvalidStateError, NotFoundError } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { newId } from '../common/ids.js';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator.js';
import type { OrgStatus, Principal, Role } from '../auth/principal.js';
import { OPERATOR_KEY_NAME, type CreateApiKeyCommand } from './domain/organization-commands.js';
import { generateApiKey, hashApiKey, keyPrefix, lastFourOf, lastUsedIsStale, usageMonthOf } from './api-keys.js';

/** One of an organization's keys as `apiKeys` shows it: never the secret, never its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** NULL for keys issued before named keys existed (only their hash was kept). */
  lastFour: string | null;
  monthlyCreditLimit: Decimal | null;
  /** Credits charged through the key in the current UTC month of the business clock. */
  creditsUsedThisMonth: Decimal;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}

/** The name of the key `registerOrganization` returns. */
export const REGISTRATION_KEY_NAME = 'default';
/**
 * Active keys an organization may hold at once. `apiKeys` is a plain list, so it has to stay
 * short; 50 is far above one key per service or environment.
 */
export const MAX_ACTIVE_KEYS = 50;

const VIEW_COLUMNS = `k.id, k.name, k.last_four, k.monthly_credit_limit::text AS monthly_credit_limit,
  coalesce(u.credits, 0)::text AS used, k.last_used_at, k.revoked_at, k.created_at`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ViewRow {
  id: string;
  name: string;
  last_four: string | null;
  monthly_credit_limit: string | null;
  used: string;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

/**
 * Named API keys (SPEC §2, §12): issue, list, revoke, and turn a bearer key into a principal.
 * This service owns the `api_keys` table; `api_key_usage` is the gateway's, read here only to show
 * `creditsUsedThisMonth`.
 */
@Injectable()
export class ApiKeysService implements ApiKeyAuthenticator, BeforeApplicationShutdown {
  private readonly logger = new Logger('ApiKeys');
  /** last_used_at writes still running, by key: one at a time per key, awaited at shutdown. */
  private readonly touching = new Map<string, Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The principal behind a bearer key, or null when no active key has that hash. One query per
   * request, never cached: a revoked key is refused by the very next request, in every API
   * process. The secret never touches a log; the lookup is by its SHA-256.
   */
  async authenticate(key: string): Promise<Principal | null> {
    const rows: { key_id: string; last_used_at: Date | null; limit: string | null; id: string; role: Role; status: OrgStatus }[] = await this.dataSource.query(
      `SELECT k.id AS key_id, k.last_used_at, k.monthly_credit_limit::text AS limit, o.id, o.role, o.status
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    if (!rows.length) return null;
    const [row] = rows;
    const now = this.clock.now();
    if (lastUsedIsStale(row.last_used_at, now)) this.touch(row.key_id, now);
    return { organizationId: row.id, role: row.role, status: row.status, apiKeyId: row.key_id, monthlyCreditLimit: row.limit };
  }

  /**
   * The monthly credit limit the gateway enforces for a key (SPEC §12): `{ monthlyCreditLimit:
   * null }` when the key has none, `null` when there is no such key.
   */
  async limitOf(apiKeyId: string): Promise<{ monthlyCreditLimit: Decimal | null } | null> {
    if (!UUID.test(apiKeyId)) return null;
    const [row]: { monthly_credit_limit: string | null }[] = await this.dataSource.query(
      `SELECT monthly_credit_limit::text AS monthly_credit_limit FROM api_keys WHERE id = $1`,
      [apiKeyId],
    );
    if (!row) return null;
    return { monthlyCreditLimit: row.monthly_credit_limit === null ? null : new Decimal(row.monthly_credit_limit) };
  }

  /** The organization's keys, newest first, revoked ones included. */
  async list(organizationId: string): Promise<ApiKeyView[]> {
    const rows: ViewRow[] = await this.dataSource.query(
      `SELECT ${VIEW_COLUMNS}
         FROM api_keys k LEFT JOIN api_key_usage u ON u.api_key_id = k.id AND u.month = $2::date
        WHERE k.organization_id = $1
        ORDER BY k.created_at DESC, k.id DESC`,
      [organizationId, usageMonthOf(this.clock.now())],
    );
    return rows.map(toView);
  }

  /** A new key for the caller's organization; the secret is returned here and never again. */
  async create(organizationId: string, { name, monthlyCreditLimit: limit }: CreateApiKeyCommand): Promise<{ apiKey: ApiKeyView; secret: string }> {
    const secret = generateApiKey();
    const id = await withTransaction(this.dataSource, async (manager) => {
      // Serializes key creation per organization so the cap below holds under concurrent calls.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('ccx:api-keys:' || $1))`, [organizationId]);
      const [{ active }] = await manager.query(`SELECT count(*)::int AS active FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL`, [organizationId]);
      if (active >= MAX_ACTIVE_KEYS) throw new InvalidStateError(`an organization may hold at most ${MAX_ACTIVE_KEYS} active API keys; revoke one first`);
      return this.insertKeyInTransaction(manager, { organizationId, secret, name, monthlyCreditLimit: limit });
    });
    return { apiKey: await this.view(organizationId, id), secret };
  }

  /**
   * Revokes one of the caller's keys; the next request with it is UNAUTHENTICATED. Another
   * organization's key (or an unknown id) is NOT_FOUND, so its existence is never revealed; a key
   * already revoked comes back unchanged; the organization's last active key is refused
   * (INVALID_STATE) so nobody locks themselves out; and so is the operator key configured by
   * CCX_OPERATOR_KEY, which every start would restore — change the variable to rotate it.
   */
  async revoke(organizationId: string, id: string): Promise<ApiKeyView> {
    await withTransaction(this.dataSource, async (manager) => {
      // Lock every active key of the organization, in id order, before deciding: two revocations
      // of its last two keys cannot both see "another key is left". The same order everywhere
      // means concurrent revocations queue instead of deadlocking.
      const active: { id: string }[] = await manager.query(
        `SELECT id FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL ORDER BY id FOR UPDATE`,
        [organizationId],
      );
      const [target]: { revoked_at: Date | null; key_hash: Buffer }[] = await manager.query(
        `SELECT revoked_at, key_hash FROM api_keys WHERE id = $1 AND organization_id = $2`,
        [id, organizationId],
      );
      if (!target) throw new NotFoundError(`API key ${id} not found`);
      if (target.revoked_at !== null) return;
      if (this.config.operatorKey && hashApiKey(this.config.operatorKey).equals(target.key_hash)) {
        throw new InvalidStateError('the key from CCX_OPERATOR_KEY cannot be revoked here: change CCX_OPERATOR_KEY and restart to rotate it');
      }
      if (active.length <= 1) {
        throw new InvalidStateError('this is the organization\'s last active API key: create another one before revoking it');
      }
      await manager.query(`UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, [id, this.clock.now()]);
      this.logger.log(`API key ${id} of organization ${organizationId} revoked`);
    });
    return this.view(organizationId, id);
  }

  /**
   * Stores a key by its hash, with its name, last 4 characters and optional limit. Its
   * `created_at` is the business clock, nudged a microsecond past the organization's newest key
   * so that "newest first" is exact even while a test clock stands still.
   */
  async insertKeyInTransaction(
    manager: EntityManager,
    key: { organizationId: string; secret: string; name: string; monthlyCreditLimit?: Decimal | null },
  ): Promise<string> {
    const id = newId();
    await manager.query(
      `INSERT INTO api_keys (id, organization_id, key_hash, prefix, name, last_four, monthly_credit_limit, created_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, GREATEST($8::timestamptz,
         (SELECT max(created_at) + interval '1 microsecond' FROM api_keys WHERE organization_id = $2)), NULL)`,
      [
        id,
        key.organizationId,
        hashApiKey(key.secret),
        keyPrefix(key.secret),
        key.name,
        lastFourOf(key.secret),
        key.monthlyCreditLimit?.toFixed() ?? null,
        this.clock.now(),
      ],
    );
    return id;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.touching.values()]);
  }

  private async view(organizationId: string, id: string): Promise<ApiKeyView> {
    const [row]: ViewRow[] = await this.dataSource.query(
      `SELECT ${VIEW_COLUMNS}
         FROM api_keys k LEFT JOIN api_key_usage u ON u.api_key_id = k.id AND u.month = $3::date
        WHERE k.id = $1 AND k.organization_id = $2`,
      [id, organizationId, usageMonthOf(this.clock.now())],
    );
    if (!row) throw new NotFoundError(`API key ${id} not found`);
    return toView(row);
  }

  /**
   * Records a key's use without a write per request and without delaying it: at most one
   * UPDATE per key per minute (the condition makes concurrent ones, in any process, no-ops), not
   * awaited, and a failure only costs a stale `lastUsedAt`.
   */
  private touch(apiKeyId: string, now: Date): void {
    if (this.touching.has(apiKeyId)) return;
    const write = this.dataSource
      .query(
        `UPDATE api_keys SET last_used_at = $2
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - interval '1 minute')`,
        [apiKeyId, now],
      )
      .then(
        () => undefined,
        (error: unknown) => this.logger.debug(`could not record the last use of API key ${apiKeyId}: ${(error as Error).message}`),
      )
      .finally(() => this.touching.delete(apiKeyId));
    this.touching.set(apiKeyId, write);
  }
}

function toView(row: ViewRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    lastFour: row.last_four,
    monthlyCreditLimit: row.monthly_credit_limit === null ? null : new Decimal(row.monthly_credit_limit),
    creditsUsedThisMonth: new Decimal(row.used),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at),
    createdAt: new Date(row.created_at),
  };
}
