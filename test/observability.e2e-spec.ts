import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTestApp, OPERATOR_KEY, type TestApp } from './support/app.js';
import { loggingParams } from '../apps/api/src/observability/logging.js';
import { loadConfig } from '../apps/api/src/config/app-config.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(name) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('metrics', () => {
  it('counts GraphQL and REST requests, ledger transactions and usage outcomes', async () => {
    const before = (await t.http().get('/metrics')).text;
    await t.gql('{ clock }');
    await t.gql('{ clock }');
    await t.http().post('/v1/usage').set('authorization', `Bearer ${OPERATOR_KEY}`).send({ events: [{ organizationId: '00000000-0000-4000-8000-000000000000', eventId: 'x', gpuType: 'H100', gpuSeconds: '1' }] });
    const buyer = await t.gql(`mutation { registerOrganization(input: { name: "m", role: BUYER }) { organization { id } } }`);
    await t.gql(`mutation($i: RecordDepositInput!) { recordDeposit(input: $i) { available } }`, { i: { organizationId: buyer.data.registerOrganization.organization.id, amount: '5.00', reference: 'metrics-1' } }, OPERATOR_KEY);
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const after = res.text;
    const gql = (text: string) => metric(text, 'ccx_http_requests_total', { route: '/graphql', status: '200' });
    expect(gql(after) - gql(before)).toBeGreaterThanOrEqual(4);
    expect(metric(after, 'ccx_http_requests_total', { route: '/v1/usage', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'ccx_usage_events_total', { status: 'rejected', code: 'NOT_FOUND' })).toBe(1);
    expect(metric(after, 'ccx_ledger_transactions_total') - metric(before, 'ccx_ledger_transactions_total')).toBe(1);
    expect(after).toContain('ccx_http_request_duration_seconds_bucket');
    expect(after).not.toContain(OPERATOR_KEY);
  });

  it('counts servicing runs', async () => {
    await t.gql(`mutation { advanceTestClock(to: "2026-01-06T00:00:00Z") }`, {}, OPERATOR_KEY);
    expect(metric((await t.http().get('/metrics')).text, 'ccx_servicing_runs_total', { result: 'ran' })).toBeGreaterThanOrEqual(1);
  });
});

describe('request ids', () => {
  it('echoes a sane x-request-id and makes one up otherwise', async () => {
    const given = await t.http().post('/graphql').set('x-request-id', 'abc-123').send({ query: '{ clock }' });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await t.http().post('/graphql').set('x-request-id', 'not ok; {"a": 1}').send({ query: '{ clock }' });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('health', () => {
  it('is ready when the database answers and every migration is applied', async () => {
    const res = await t.http().get('/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ready', database: 'up' });
  });

  it('is not ready while a migration is missing', async () => {
    await t.db.dataSource.query(`INSERT INTO migrations (timestamp, name) SELECT 0, 'placeholder' WHERE false`);
    const [{ name }] = await t.db.dataSource.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`);
    await t.db.dataSource.query(`DELETE FROM migrations WHERE name = $1`, [name]);
    try {
      const res = await t.http().get('/health/ready');
      expect(res.status).toBe(503);
      expect(res.body.pendingMigrations).toEqual([name]);
    } finally {
      await t.db.dataSource.query(`INSERT INTO migrations (timestamp, name) VALUES ($1, $2)`, [Number(name.slice(-13)), name]);
    }
  });
});

describe('logs', () => {
  it('redact API keys from request logs', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const params = loggingParams(loadConfig({ NODE_ENV: 'development' })).pinoHttp as { redact: { paths: string[]; censor: string } };
    const log = pino({ redact: params.redact }, sink);
    log.info({ req: { headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'user-agent': 'x' } } }, 'request');
    expect(lines.join('')).not.toContain(OPERATOR_KEY);
    expect(lines.join('')).toContain('[redacted]');
  });
});
