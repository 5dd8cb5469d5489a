/**
 * An organization's role and status (SPEC §2), defined once: the principal, the organizations
 * table's columns and the GraphQL enums `OrganizationRole` and `OrganizationStatus` all use these.
 */
export const Role = { BUYER: 'BUYER', SELLER: 'SELLER', LENDER: 'LENDER', OPERATOR: 'OPERATOR' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const OrgStatus = { PENDING: 'PENDING', ACTIVE: 'ACTIVE', SUSPENDED: 'SUSPENDED' } as const;
export type OrgStatus = (typeof OrgStatus)[keyof typeof OrgStatus];

/** Who is calling: an organization authenticated by one of its API keys. */
export interface Principal {
  organizationId: string;
  role: Role;
  status: OrgStatus;
  /** The key that authenticated this request (the gateway enforces its monthly credit limit). */
  apiKeyId: string;
  /** That key's monthly credit limit (a decimal string), read with the key: the gateway enforces it. */
  monthlyCreditLimit?: string | null;
}
