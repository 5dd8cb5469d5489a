import { Injectable } from '@nestjs/common';
import { OrganizationsService } from '../organizations/organizations.service.js';
import type { Principal } from './principal.js';

/**
 * Turns a bearer key into a principal. Keys are looked up by their SHA-256, so the comparison
 * never runs over the secret itself and timing reveals nothing about it.
 */
@Injectable()
export class ApiKeyAuthenticator {
  constructor(private readonly organizations: OrganizationsService) {}

  authenticate(key: string): Promise<Principal | null> {
    return this.organizations.authenticate(key);
  }
}
