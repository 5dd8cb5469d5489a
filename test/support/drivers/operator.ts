import { OPERATOR_KEY, startTestApp, type TestApp } from '../app.js';

/** The operator's views and the business clock through the API, and an app per describe block. */
export async function integrity(t: TestApp): Promise<{ balanced: boolean; problems: string[] }> {
  const res = await t.gql(`{ ledgerIntegrity { balanced problems } }`, {}, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.ledgerIntegrity;
}

/** How many ledger accounts and transactions exist (from ledgerIntegrity). */
export async function ledgerCounts(t: TestApp): Promise<{ accountsChecked: number; transactionsChecked: number }> {
  const res = await t.gql(`{ ledgerIntegrity { accountsChecked transactionsChecked } }`, {}, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.ledgerIntegrity;
}

export async function advanceClock(t: TestApp, to: string): Promise<void> {
  const res = await t.gql(`mutation($to: DateTime!) { advanceTestClock(to: $to) }`, { to }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

/** The current business clock. */
export async function clockNow(t: TestApp): Promise<Date> {
  const res = await t.gql(`{ clock }`);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return new Date(res.data.clock);
}

/** Starts an app for one describe block and checks the ledger after each of its tests. */
export function appPerBlock(): () => TestApp {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    expect(await integrity(t)).toEqual({ balanced: true, problems: [] });
  });
  return () => t;
}
