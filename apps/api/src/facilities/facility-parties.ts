import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OrganizationsService } from '../organizations/index.js';

/**
 * A facility's lender and borrower, read in the caller's transaction through the organizations
 * module, which owns them (status, role and wallet account).
 */
@Injectable()
export class FacilityParties {
  constructor(private readonly organizations: OrganizationsService) {}

  async findInTransaction(manager: EntityManager, organizationId: string) {
    const [found] = await this.organizations.findManyInTransaction(manager, [organizationId]);
    return found ?? null;
  }

  /** One the facility names: it exists (organizations are never deleted). */
  async getInTransaction(manager: EntityManager, organizationId: string) {
    const found = await this.findInTransaction(manager, organizationId);
    if (!found) throw new Error(`organization ${organizationId} named by a facility does not exist`);
    return found;
  }
}
