import { Injectable } from '@nestjs/common';
import DataLoader from 'dataloader';
import { OrganizationsService } from './organizations.service.js';
import type { OrganizationEntity } from './organization.entity.js';

const KEY = Symbol('ccx:organization-loader');

/** Batches organization look-ups of one request (e.g. the seller of every listing on a page). */
@Injectable()
export class OrganizationLoader {
  constructor(private readonly organizations: OrganizationsService) {}

  load(request: object, id: string): Promise<OrganizationEntity> {
    const holder = request as { [KEY]?: DataLoader<string, OrganizationEntity> };
    holder[KEY] ??= new DataLoader<string, OrganizationEntity>(async (ids) => {
      const found = new Map((await this.organizations.findMany(ids)).map((o) => [o.id, o]));
      return ids.map((id) => found.get(id) ?? new Error(`organization ${id} not found`));
    });
    return holder[KEY]!.load(id);
  }
}
