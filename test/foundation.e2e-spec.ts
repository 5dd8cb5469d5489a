import { readFile } from 'node:fs/promises';
import { startTestApp, OPERATOR_KEY, CLOCK_START, type TestApp } from './support/app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

describe('health', () => {
  it('answers 200 when the database answers', async () => {
    const res = await t.http().get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', database: 'up' });
  });
});

describe('clock', () => {
  it('is public and starts at CCX_CLOCK_START with the test clock', async () => {
    const res = await t.gql('{ clock }');
    expect(res.errors).toBeUndefined();
    expect(res.data.clock).toBe(CLOCK_START);
  });

  it('moves forward only, and only for the operator', async () => {
    const anon = await t.gql('mutation { advanceTestClock(to: "2026-01-06T00:00:00Z") }');
    expect(anon.code).toBe('UNAUTHENTICATED');
    const moved = await t.gql('mutation { advanceTestClock(to: "2026-01-06T00:00:00Z") }', {}, OPERATOR_KEY);
    expect(moved.data.advanceTestClock).toBe('2026-01-06T00:00:00.000Z');
    const back = await t.gql('mutation { advanceTestClock(to: "2026-01-05T00:00:00Z") }', {}, OPERATOR_KEY);
    expect(back.code).toBe('BAD_USER_INPUT');
    expect((await t.gql('{ clock }')).data.clock).toBe('2026-01-06T00:00:00.000Z');
  });

  it('rejects a DateTime that is not ISO-8601 as BAD_USER_INPUT', async () => {
    const res = await t.gql('mutation($to: DateTime!) { advanceTestClock(to: $to) }', { to: 'next tuesday' }, OPERATOR_KEY);
    expect(res.code).toBe('BAD_USER_INPUT');
  });
});

describe('ledgerIntegrity', () => {
  const query = '{ ledgerIntegrity { balanced accountsChecked transactionsChecked problems } }';

  it('answers the operator', async () => {
    const res = await t.gql(query, {}, OPERATOR_KEY);
    expect(res.errors).toBeUndefined();
    expect(res.data.ledgerIntegrity).toEqual({ balanced: true, accountsChecked: expect.any(Number), transactionsChecked: expect.any(Number), problems: [] });
  });

  it('refuses anonymous callers and unknown keys with UNAUTHENTICATED', async () => {
    expect((await t.gql(query)).code).toBe('UNAUTHENTICATED');
    expect((await t.gql(query, {}, 'not-a-real-key')).code).toBe('UNAUTHENTICATED');
    const malformed = await t.http().post('/graphql').set('authorization', 'Basic abc').send({ query });
    expect(malformed.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('errors', () => {
  it('never leaks a stack trace', async () => {
    const res = await t.gql('{ ledgerIntegrity { balanced } }');
    expect(JSON.stringify(res.errors)).not.toMatch(/stacktrace|at .*\.ts:\d+/);
  });

  it('answers malformed GraphQL with a protocol code', async () => {
    const res = await t.gql('{ clock ');
    expect(res.code).toBe('GRAPHQL_PARSE_FAILED');
  });
});

describe('schema.gql', () => {
  it('the committed schema.gql is what the server generates (run CCX_UPDATE_SCHEMA=1 npm test to refresh)', async () => {
    const generated = await readFile(t.schemaFile, 'utf8');
    if (process.env.CCX_UPDATE_SCHEMA === '1') {
      const { writeFile } = await import('node:fs/promises');
      await writeFile('schema.gql', generated);
    }
    expect(await readFile('schema.gql', 'utf8')).toBe(generated);
  });
});
