export type Role = 'BUYER' | 'SELLER' | 'LENDER' | 'OPERATOR';
export type OrgStatus = 'PENDING' | 'ACTIVE' | 'SUSPENDED';

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
