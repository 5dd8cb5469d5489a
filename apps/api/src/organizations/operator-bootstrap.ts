import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { OrganizationsService } from './organizations.service.js';

/** Creates the operator organization and its key at start (SPEC §2). */
@Injectable()
export class OperatorBootstrap implements OnApplicationBootstrap {
  constructor(private readonly organizations: OrganizationsService) {}

  onApplicationBootstrap(): Promise<void> {
    return this.organizations.ensureOperator();
  }
}
