import { OPERATOR_KEY, type TestApp } from '../app.js';
import type { Org } from './organizations.js';

/** Wallets through the API: the operator records deposits, an organization reads its wallet. */
export async function deposit(t: TestApp, org: Org, amount: string, reference = `ref-${Math.random().toString(36).slice(2)}`): Promise<void> {
  const res = await t.gql(
    `mutation($input: RecordDepositInput!) { recordDeposit(input: $input) { available } }`,
    { input: { organizationId: org.id, amount, reference } },
    OPERATOR_KEY,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export async function walletOf(t: TestApp, org: Org): Promise<string> {
  const res = await t.gql(`{ wallet { available } }`, {}, org.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.wallet.available;
}
