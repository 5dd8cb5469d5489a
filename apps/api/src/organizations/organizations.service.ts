import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { BadInputError, DomainError, ErrorCode, InvalidStateError, NotFoundError } from '@ccx/core';
import { withTransaction } from '@ccx/ledger';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { ClockService } from '../clock/clock.service.js';
import { PlatformAccounts } from '../ledger/platform-accounts.js';
import { newId, parseId } from '../common/ids.js';
import { textInput } from '../common/amounts.js';
import type { OrgStatus, Principal, Role } from '../auth/principal.js';
import { OrganizationEntity } from './organization.entity.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { generateApiKey, hashApiKey, keyPrefix } from './api-keys.js';

export interface RegisterInput {
  name: string;
  role: Role;
}

/** Organizations, their API keys and wallets' ledger accounts (SPEC §2, §3). */
@Injectable()
export class OrganizationsService {
  private readonly logger = new Logger('Organizations');

  constructor(
    private readonly dataSource: DataSource,
    private readonly clock: ClockService,
    private readonly platform: PlatformAccounts,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Public sign-up. Buyers start ACTIVE; sellers and lenders PENDING until the operator approves. */
  async register(input: RegisterInput): Promise<{ organization: OrganizationEntity; apiKey: string }> {
    const name = textInput(input.name, 'name', 200);
    if (!['BUYER', 'SELLER', 'LENDER', 'OPERATOR'].includes(input.role)) throw new BadInputError('role is not valid', { field: 'role' });
    if (input.role === 'OPERATOR') throw new DomainError(ErrorCode.FORBIDDEN, 'the operator organization cannot be registered');
    const status: OrgStatus = input.role === 'BUYER' ? 'ACTIVE' : 'PENDING';
    return withTransaction(this.dataSource, (manager) => this.create(manager, name, input.role, status));
  }

  async get(id: string): Promise<OrganizationEntity> {
    const found = await this.dataSource.manager.findOneBy(OrganizationEntity, { id: parseId(id, 'organization') });
    if (!found) throw new NotFoundError(`organization ${id} not found`);
    return found;
  }

  async findMany(ids: readonly string[]): Promise<OrganizationEntity[]> {
    if (!ids.length) return [];
    return this.dataSource.manager.getRepository(OrganizationEntity).createQueryBuilder('o').where('o.id IN (:...ids)', { ids }).getMany();
  }

  /** Approves a PENDING organization (or re-activates a SUSPENDED one). */
  approve(id: string): Promise<OrganizationEntity> {
    return this.setStatus(id, 'ACTIVE', ['PENDING', 'SUSPENDED']);
  }

  suspend(id: string): Promise<OrganizationEntity> {
    return this.setStatus(id, 'SUSPENDED', ['PENDING', 'ACTIVE']);
  }

  /** The principal behind an API key, or null. The lookup is by hash; the key never touches a log. */
  async authenticate(key: string): Promise<Principal | null> {
    const rows: { id: string; role: Role; status: OrgStatus }[] = await this.dataSource.query(
      `SELECT o.id, o.role, o.status FROM api_keys k JOIN organizations o ON o.id = k.organization_id
       WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    return rows.length ? { organizationId: rows[0].id, role: rows[0].role, status: rows[0].status } : null;
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
        if (!known) await this.insertKey(manager, operator.id, this.config.operatorKey);
        // The configured key is the operator's key: changing CCX_OPERATOR_KEY rotates it, so any
        // other operator key (an earlier one, or one generated before it was set) stops working.
        await manager.query(`UPDATE api_keys SET revoked_at = NULL WHERE organization_id = $1 AND key_hash = $2`, [operator.id, hash]);
        await manager.query(`UPDATE api_keys SET revoked_at = $3 WHERE organization_id = $1 AND key_hash <> $2 AND revoked_at IS NULL`, [
          operator.id,
          hash,
          this.clock.now(),
        ]);
      } else if ((await manager.countBy(ApiKeyEntity, { organizationId: operator.id })) === 0) {
        generated = generateApiKey();
        await this.insertKey(manager, operator.id, generated);
      }
      if (generated) {
        // Printed once, on the first start without CCX_OPERATOR_KEY; only its hash is stored.
        process.stdout.write(
          `\n  CCX operator API key (shown once; store it safely or set CCX_OPERATOR_KEY):\n\n    ${generated}\n\n`,
        );
      }
    });
  }

  private async setStatus(id: string, status: OrgStatus, from: OrgStatus[]): Promise<OrganizationEntity> {
    const orgId = parseId(id, 'organization');
    return withTransaction(this.dataSource, async (manager) => {
      const org = await manager.findOne(OrganizationEntity, { where: { id: orgId }, lock: { mode: 'pessimistic_write' } });
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
    await this.insertKey(manager, organization.id, apiKey);
    return { organization, apiKey };
  }

  private async insertOrganization(manager: EntityManager, name: string, role: Role, status: OrgStatus): Promise<OrganizationEntity> {
    const id = newId();
    const wallet = await this.platform.createLimited(manager, `wallet:${id}:USD`, 'USD', id);
    const entity = manager.create(OrganizationEntity, { id, name, role, status, walletAccountId: wallet.id, createdAt: this.clock.now() });
    await manager.insert(OrganizationEntity, entity);
    return entity;
  }

  private async insertKey(manager: EntityManager, organizationId: string, key: string): Promise<void> {
    await manager.insert(ApiKeyEntity, { organizationId, keyHash: hashApiKey(key), prefix: keyPrefix(key), createdAt: this.clock.now(), revokedAt: null });
  }
}
