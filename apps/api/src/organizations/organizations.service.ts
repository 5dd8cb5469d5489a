import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { InvalidStateError, NotFoundError } from '@ccx/core';
import { namedRows, withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { walletAccountCode } from '../ledger/chart-of-accounts.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId, parseId } from '../common/ids.js';
import type { OrgStatus, Role } from '../auth/principal.js';
import { OrganizationEntity } from './organization.entity.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { generateApiKey, hashApiKey, lastFourOf } from './api-keys.js';
import { ApiKeysService, REGISTRATION_KEY_NAME } from './api-keys.service.js';
import { OPERATOR_KEY_NAME, type RegisterOrganizationCommand } from './domain/organization-commands.js';
import type { OrganizationFacts } from './domain/organization-facts.js';

const STANDINGS = { name: 'ccx_organizations_standings', text: `SELECT id, role, status FROM organizations WHERE id = ANY($1::uuid[])` };

/** Organizations, their API keys and wallets' ledger accounts (SPEC §2, §3). */
@Injectable()
export class OrganizationsService {
  private readonly logger = new Logger('Organizations');

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly platform: PlatformAccounts,
    private readonly apiKeys: ApiKeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Public sign-up. Buyers start ACTIVE; sellers and lenders PENDING until the operator approves. */
  async register({ name, role }: RegisterOrganizationCommand): Promise<{ organization: OrganizationEntity; apiKey: string }> {
    const status: OrgStatus = role === 'BUYER' ? 'ACTIVE' : 'PENDING';
    return withTransaction(this.dataSource, (manager) => this.create(manager, name, role, status));
  }

  async get(id: string): Promise<OrganizationEntity> {
    const found = await this.dataSource.manager.findOneBy(OrganizationEntity, { id: parseId(id, 'organization') });
    if (!found) throw new NotFoundError(`organization ${id} not found`);
    return found;
  }

  /** One organization by a valid id; null when there is none. */
  find(id: string): Promise<OrganizationFacts | null> {
    return this.dataSource.manager.findOneBy(OrganizationEntity, { id });
  }

  /** One organization by a valid id, read in the caller's transaction; null when there is none. */
  findInTransaction(manager: EntityManager, id: string): Promise<OrganizationFacts | null> {
    return manager.findOneBy(OrganizationEntity, { id });
  }

  async findMany(ids: readonly string[]): Promise<OrganizationEntity[]> {
    if (!ids.length) return [];
    return this.dataSource.manager.getRepository(OrganizationEntity).createQueryBuilder('o').where('o.id IN (:...ids)', { ids }).getMany();
  }

  /** Organizations by id in the caller's transaction (usage judges its buyers under their lock). */
  /**
   * Role and status of these organizations, as metering checks them on every charge: a named
   * statement in the caller's transaction, three columns, no entity.
   */
  standingsInTransaction(manager: EntityManager, ids: readonly string[]): Promise<{ id: string; role: Role; status: OrgStatus }[]> {
    return namedRows(manager, STANDINGS, [ids]);
  }

  findManyInTransaction(manager: EntityManager, ids: readonly string[]): Promise<OrganizationEntity[]> {
    return manager.find(OrganizationEntity, { where: { id: In([...ids]) } });
  }

  /** Approves a PENDING organization (or re-activates a SUSPENDED one). */
  approve(id: string): Promise<OrganizationEntity> {
    return this.setStatus(id, 'ACTIVE', ['PENDING', 'SUSPENDED']);
  }

  suspend(id: string): Promise<OrganizationEntity> {
    return this.setStatus(id, 'SUSPENDED', ['PENDING', 'ACTIVE']);
  }

  /**
   * Makes sure the operator organization exists and holds a key: CCX_OPERATOR_KEY when set,
   * otherwise (first start only) a generated key printed once.
   */
  async ensureOperator(): Promise<void> {
    await withTransaction(this.dataSource, async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext('ccx:operator-bootstrap'))`);
      let operator = await manager.findOneBy(OrganizationEntity, { role: 'OPERATOR' });
      let generated: string | null = null;
      if (!operator) {
        operator = await this.insertOrganization(manager, 'CCX Operator', 'OPERATOR', 'ACTIVE');
      }
      if (this.config.operatorKey) {
        const hash = hashApiKey(this.config.operatorKey);
        const known = await manager.findOneBy(ApiKeyEntity, { keyHash: hash });
        if (known && known.organizationId !== operator.id) throw new Error('CCX_OPERATOR_KEY belongs to another organization');
        if (!known) await this.insertKey(manager, operator.id, this.config.operatorKey, OPERATOR_KEY_NAME);
        // A key configured before keys had names gets its name and last 4 characters now.
        await manager.query(
          `UPDATE api_keys SET revoked_at = NULL, name = $3, last_four = coalesce(last_four, $4) WHERE organization_id = $1 AND key_hash = $2`,
          [operator.id, hash, OPERATOR_KEY_NAME, lastFourOf(this.config.operatorKey)],
        );
        // The configured key is the operator's key: changing CCX_OPERATOR_KEY rotates it, so any
        // other bootstrap key (an earlier one, or one generated before it was set) stops working.
        // Bootstrap keys are those named "operator" (a name createApiKey refuses to the operator)
        // and those from before keys had names (no last_four: all of them were bootstrap keys);
        // keys the operator made with createApiKey survive restarts.
        await manager.query(
          `UPDATE api_keys SET revoked_at = $3
            WHERE organization_id = $1 AND key_hash <> $2 AND revoked_at IS NULL AND (name = $4 OR last_four IS NULL)`,
          [operator.id, hash, this.clock.now(), OPERATOR_KEY_NAME],
        );
      } else if ((await manager.countBy(ApiKeyEntity, { organizationId: operator.id })) === 0) {
        generated = generateApiKey();
        await this.insertKey(manager, operator.id, generated, OPERATOR_KEY_NAME);
      }
      if (generated) {
        // Printed once, on the first start without CCX_OPERATOR_KEY; only its hash is stored.
        process.stdout.write(
          `\n  CCX operator API key (shown once; store it safely or set CCX_OPERATOR_KEY):\n\n    ${generated}\n\n`,
        );
      }
    });
  }

  /** `id` is validated (parseId) by the caller. */
  private async setStatus(id: string, status: OrgStatus, from: OrgStatus[]): Promise<OrganizationEntity> {
    return withTransaction(this.dataSource, async (manager) => {
      const org = await manager.findOne(OrganizationEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!org) throw new NotFoundError(`organization ${id} not found`);
      if (org.role === 'OPERATOR') throw new InvalidStateError('the operator organization cannot change status');
      if (org.status === status) return org;
      if (!from.includes(org.status)) throw new InvalidStateError(`a ${org.status} organization cannot become ${status}`);
      org.status = status;
      await manager.update(OrganizationEntity, { id: org.id }, { status });
      this.logger.log(`organization ${org.id} is now ${status}`);
      return org;
    });
  }

  private async create(manager: EntityManager, name: string, role: Role, status: OrgStatus) {
    const organization = await this.insertOrganization(manager, name, role, status);
    const apiKey = generateApiKey();
    await this.insertKey(manager, organization.id, apiKey, REGISTRATION_KEY_NAME);
    return { organization, apiKey };
  }

  private async insertOrganization(manager: EntityManager, name: string, role: Role, status: OrgStatus): Promise<OrganizationEntity> {
    const id = newId();
    const wallet = await this.platform.createLimited(manager, walletAccountCode(id), 'USD', id);
    const entity = manager.create(OrganizationEntity, { id, name, role, status, walletAccountId: wallet.id, createdAt: this.clock.now() });
    await manager.insert(OrganizationEntity, entity);
    return entity;
  }

  private async insertKey(manager: EntityManager, organizationId: string, secret: string, name: string): Promise<void> {
    await this.apiKeys.insertKeyInTransaction(manager, { organizationId, secret, name });
  }
}
