import { OPERATOR_KEY, type TestApp } from '../app.js';

/**
 * GraphQL drivers (this folder): each calls the public API as a user would and returns what it
 * answered. Expected values live in ../oracles.ts, direct database reads in ../db-probes.ts.
 * This file: organizations signing up, the operator approving and suspending them.
 */
export interface Org {
  id: string;
  key: string;
}

export async function register(t: TestApp, role: 'BUYER' | 'SELLER' | 'LENDER', name = `${role.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<Org> {
  const res = await t.gql(
    `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id status } } }`,
    { input: { name, role } },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const org = { id: res.data.registerOrganization.organization.id, key: res.data.registerOrganization.apiKey };
  if (role !== 'BUYER') {
    const ok = await t.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR_KEY);
    if (ok.errors) throw new Error(JSON.stringify(ok.errors));
  }
  return org;
}

/** Registers an organization without approving it (sellers and lenders stay PENDING). */
export async function registerPending(t: TestApp, role: 'BUYER' | 'SELLER' | 'LENDER', name = `${role.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}`): Promise<Org> {
  const res = await t.gql(
    `mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { apiKey organization { id } } }`,
    { input: { name, role } },
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return { id: res.data.registerOrganization.organization.id, key: res.data.registerOrganization.apiKey };
}

/** The operator suspends an organization. */
export async function suspend(t: TestApp, org: Org): Promise<void> {
  const res = await t.gql(`mutation($id: ID!) { suspendOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

/** The operator approves (or re-activates) an organization. */
export async function approve(t: TestApp, org: Org): Promise<void> {
  const res = await t.gql(`mutation($id: ID!) { approveOrganization(id: $id) { status } }`, { id: org.id }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

/** The operator organization's id (from `me` with the operator key). */
export async function operatorId(t: TestApp): Promise<string> {
  const res = await t.gql(`{ me { id } }`, {}, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.me.id;
}
