export type Role = 'BUYER' | 'SELLER' | 'LENDER' | 'OPERATOR';
export type OrgStatus = 'PENDING' | 'ACTIVE' | 'SUSPENDED';

/** Who is calling: an organization authenticated by its API key. */
export interface Principal {
  organizationId: string;
  role: Role;
  status: OrgStatus;
}
