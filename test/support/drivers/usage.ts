import { OPERATOR_KEY, type TestApp } from '../app.js';

/** Usage and metering through the API (SPEC §8): rate cards, recordUsage, /v1/usage, holds, reports. */
export async function upsertModel(t: TestApp, id: string, inputCreditsPerMillionTokens: string, outputCreditsPerMillionTokens: string): Promise<void> {
  const res = await t.gql(
    `mutation($input: ModelInput!) { upsertModel(input: $input) { id } }`,
    { input: { id, inputCreditsPerMillionTokens, outputCreditsPerMillionTokens } },
    OPERATOR_KEY,
  );
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export async function upsertGpuType(t: TestApp, name: string, creditsPerGpuHour: string): Promise<void> {
  const res = await t.gql(`mutation($input: GpuTypeInput!) { upsertGpuType(input: $input) { name } }`, { input: { name, creditsPerGpuHour } }, OPERATOR_KEY);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
}

export const USAGE_RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { eventId credits duplicate } }`;

/** recordUsage (raw response, so tests can assert codes); the operator's key unless told. */
export function recordUsage(t: TestApp, input: Record<string, unknown>, key: string | null = OPERATOR_KEY) {
  return t.gql(USAGE_RECORD, { input }, key);
}

/** recordUsage that must succeed; the UsageRecord. */
export async function recordUsageOk(t: TestApp, input: Record<string, unknown>): Promise<{ eventId: string; credits: string; duplicate: boolean }> {
  const res = await recordUsage(t, input);
  if (res.errors) throw new Error(`recordUsage ${JSON.stringify(input)}: ${JSON.stringify(res.errors)}`);
  return res.data.recordUsage;
}

/** POST /v1/usage with a JSON body (any value) and a key (the operator's unless told). */
export function postUsage(t: TestApp, body: unknown, key: string | null = OPERATOR_KEY) {
  const req = t.http().post('/v1/usage').set('content-type', 'application/json');
  if (key) req.set('authorization', `Bearer ${key}`);
  return req.send(typeof body === 'string' ? body : JSON.stringify(body));
}

export const HOLD_FIELDS = 'id credits status expiresAt';

export function authorizeUsage(t: TestApp, input: { organizationId: string; eventId: string; credits: string }, key: string | null = OPERATOR_KEY) {
  return t.gql(`mutation($input: AuthorizeUsageInput!) { authorizeUsage(input: $input) { ${HOLD_FIELDS} } }`, { input }, key);
}

export async function authorizeUsageOk(t: TestApp, input: { organizationId: string; eventId: string; credits: string }): Promise<{ id: string; credits: string; status: string; expiresAt: string }> {
  const res = await authorizeUsage(t, input);
  if (res.errors) throw new Error(`authorizeUsage ${JSON.stringify(input)}: ${JSON.stringify(res.errors)}`);
  return res.data.authorizeUsage;
}

export function captureUsage(t: TestApp, input: Record<string, unknown>, key: string | null = OPERATOR_KEY) {
  return t.gql(`mutation($input: CaptureUsageInput!) { captureUsage(input: $input) { eventId credits duplicate } }`, { input }, key);
}

export function voidUsageHold(t: TestApp, id: string, key: string | null = OPERATOR_KEY) {
  return t.gql(`mutation($id: ID!) { voidUsageHold(id: $id) { ${HOLD_FIELDS} } }`, { id }, key);
}

export interface UsageReportArgs {
  from: string;
  to: string;
  groupBy: 'DAY' | 'MODEL';
}

export function usageReport(t: TestApp, input: UsageReportArgs, key: string | null, organizationId?: string) {
  return organizationId === undefined
    ? t.gql(`query($input: UsageReportInput!) { usageReport(input: $input) { key events credits } }`, { input }, key)
    : t.gql(`query($input: UsageReportInput!, $org: ID) { usageReport(input: $input, organizationId: $org) { key events credits } }`, { input, org: organizationId }, key);
}
