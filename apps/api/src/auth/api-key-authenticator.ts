import { Injectable } from '@nestjs/common';
import { ApiKeysService } from '../organizations/api-keys.service.js';
import type { Principal } from './principal.js';

/**
 * Turns a bearer key into a principal. Keys are looked up by their SHA-256, so the comparison
 * never runs over the secret itself and timing reveals nothing about it. No cache: a revoked key
 * is refused by the next request, in every API process.
 */
@Injectable()
export class ApiKeyAuthenticator {
  constructor(private readonly apiKeys: ApiKeysService) {}

  authenticate(key: string): Promise<Principal | null> {
    return this.apiKeys.authenticate(key);
  }
}
