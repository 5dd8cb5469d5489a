import { DataSource } from 'typeorm';
import { Decimal } from '@ccx/core';
import { AlertsService } from '../../apps/api/src/alerts/alerts.service.js';
import { AlertKind } from '../../apps/api/src/alerts/domain/alert-kind.js';
import { CLOCK_START, type TestApp } from './app.js';
import { type Org } from './drivers/organizations.js';

/** Helpers for the alert specs: settings through the API, emit/balanceChanged as a module would. */

export const SETTINGS_FIELDS = 'lowBalanceThreshold autoRefillThreshold autoRefillCredits autoRefillMaxUnitPrice webhookUrl webhookSecret';
export const UPDATE_SETTINGS = `mutation($input: BalanceSettingsInput!) { updateBalanceSettings(input: $input) { ${SETTINGS_FIELDS} } }`;
export const READ_SETTINGS = `{ balanceSettings { ${SETTINGS_FIELDS} } }`;
export const ALERTS = `query($first: Int) { alerts(first: $first) { id kind message createdAt } }`;

export const NO_SETTINGS = {
  lowBalanceThreshold: null,
  autoRefillThreshold: null,
  autoRefillCredits: null,
  autoRefillMaxUnitPrice: null,
  webhookUrl: null,
  webhookSecret: null,
};

export function updateSettings(t: TestApp, org: Org, input: Record<string, unknown>) {
  return t.gql(UPDATE_SETTINGS, { input }, org.key);
}

/** Sets settings and fails the test on any error; the answer (with a new webhookSecret, if any). */
export async function setSettings(t: TestApp, org: Org, input: Record<string, unknown>): Promise<Record<string, string | null>> {
  const res = await updateSettings(t, org, input);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.updateBalanceSettings;
}

export async function alertsOf(t: TestApp, org: Org, first?: number): Promise<{ id: string; kind: string; message: string; createdAt: string }[]> {
  const res = await t.gql(ALERTS, first === undefined ? {} : { first }, org.key);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.alerts;
}

/** AlertsService.emit in a transaction of its own, as another module would call it. */
export async function emit(
  t: TestApp,
  org: Org,
  input: { kind?: AlertKind; message?: string; data?: Record<string, unknown>; at?: string } = {},
): Promise<void> {
  const alerts = t.app.get(AlertsService);
  await t.app.get(DataSource).transaction((m) =>
    alerts.emitInTransaction(m, {
      organizationId: org.id,
      kind: input.kind ?? AlertKind.LOW_BALANCE,
      message: input.message ?? 'Your available credits fell below 10.000000: 5.000000 left.',
      data: input.data,
      at: new Date(input.at ?? CLOCK_START),
    }),
  );
}

/** AlertsService.balanceChanged in a transaction of its own, as usage calls it after a batch. */
export async function balanceChanged(t: TestApp, org: Org, before: string, after: string): Promise<void> {
  const alerts = t.app.get(AlertsService);
  await t.app.get(DataSource).transaction((m) =>
    alerts.balanceChangedInTransaction(m, { organizationId: org.id, before: new Decimal(before), after: new Decimal(after), at: new Date(CLOCK_START) }),
  );
}

export interface DeliveryRow {
  id: string;
  alert_id: string;
  url: string;
  attempts: number;
  delivered: boolean;
  failed: boolean;
  due_in_ms: number | null;
  /** next_attempt_at − last_attempt_at: the backoff chosen after the latest failure. */
  backoff_ms: number | null;
  last_error: string | null;
}

export async function deliveriesOf(t: TestApp, org: Org): Promise<DeliveryRow[]> {
  return t.db.dataSource.query(
    `SELECT id, alert_id, url, attempts, delivered_at IS NOT NULL AS delivered, failed_at IS NOT NULL AS failed,
            (extract(epoch FROM next_attempt_at - now()) * 1000)::float8 AS due_in_ms,
            (extract(epoch FROM next_attempt_at - last_attempt_at) * 1000)::float8 AS backoff_ms, last_error
       FROM webhook_deliveries WHERE organization_id = $1 ORDER BY created_at, id`,
    [org.id],
  );
}

/** Makes an organization's waiting deliveries due now, as if their backoff had elapsed. */
export async function makeDue(t: TestApp, org: Org): Promise<void> {
  await t.db.dataSource.query(
    `UPDATE webhook_deliveries SET next_attempt_at = now() WHERE organization_id = $1 AND delivered_at IS NULL AND failed_at IS NULL`,
    [org.id],
  );
}

export async function jobsOf(t: TestApp, org: Org): Promise<{ id: string; status: string; credits: string; max_unit_price: string | null; result: any }[]> {
  return t.db.dataSource.query(
    `SELECT id, status, credits::text, max_unit_price::text, result FROM auto_refill_jobs WHERE organization_id = $1 ORDER BY created_at, id`,
    [org.id],
  );
}
