import type { OrgStatus, Role } from '../../auth/principal.js';

/**
 * What other modules read about an organization: plain data, so they never hold (or query) the
 * organizations module's entity.
 */
export interface OrganizationFacts {
  id: string;
  name: string;
  role: Role;
  status: OrgStatus;
  /** Its USD wallet's ledger account. */
  walletAccountId: string;
  createdAt: Date;
}
