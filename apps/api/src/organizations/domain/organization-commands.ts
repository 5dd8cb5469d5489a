import { BadInputError, DomainError, ErrorCode, type Decimal } from '@ccx/core';
import { creditsInput, textInput } from '../../common/amounts.js';
import type { Role } from '../../auth/principal.js';

/** The roles anyone may sign up with; the operator organization is created at start only. */
export type RegistrableRole = Exclude<Role, 'OPERATOR'>;

export interface RegisterOrganizationCommand {
  name: string;
  role: RegistrableRole;
}

export interface CreateApiKeyCommand {
  name: string;
  /** Credits per UTC month; null: no limit of the key's own. */
  monthlyCreditLimit: Decimal | null;
}

/** The name of the key that CCX_OPERATOR_KEY (or the first start) gives the operator. */
export const OPERATOR_KEY_NAME = 'operator';

const ROLES: readonly Role[] = ['BUYER', 'SELLER', 'LENDER', 'OPERATOR'];

/** registerOrganization's input: a bad name or role is BAD_USER_INPUT, OPERATOR is FORBIDDEN. */
export function parseRegisterOrganization(input: { name?: unknown; role?: unknown }): RegisterOrganizationCommand {
  const name = textInput(input.name, 'name', 200);
  const role = input.role as Role;
  if (!ROLES.includes(role)) throw new BadInputError('role is not valid', { field: 'role' });
  if (role === 'OPERATOR') throw new DomainError(ErrorCode.FORBIDDEN, 'the operator organization cannot be registered');
  return { name, role };
}

/** createApiKey's input for a caller of `callerRole`. */
export function parseCreateApiKey(input: { name?: unknown; monthlyCreditLimit?: unknown }, callerRole: Role): CreateApiKeyCommand {
  const name = textInput(input.name, 'name', 100);
  if (callerRole === 'OPERATOR' && name === OPERATOR_KEY_NAME) {
    // Keys of this name are the ones CCX_OPERATOR_KEY rotates away at start (ensureOperator).
    throw new BadInputError(`the name "${OPERATOR_KEY_NAME}" is reserved for the key from CCX_OPERATOR_KEY`, { field: 'name' });
  }
  const limit = input.monthlyCreditLimit;
  return { name, monthlyCreditLimit: limit === null || limit === undefined ? null : creditsInput(limit, 'monthlyCreditLimit') };
}
