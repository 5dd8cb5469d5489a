import { createHash } from 'node:crypto';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { OPERATOR_KEY, startTestApp, type TestApp } from './support/app.js';

/**
 * Issue 12 item 10: Apollo's own request errors keep their real codes and are the caller's
 * fault (4xx, never an error-level log); INTERNAL_SERVER_ERROR is kept for real faults. A
 * persisted-query hash mismatch used to answer 400 with INTERNAL_SERVER_ERROR and log a stack.
 */
let t: TestApp;
let errorLog: jest.SpiedFunction<Logger['error']>;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => {
  errorLog = jest.spyOn(Logger.prototype, 'error');
});
afterEach(() => {
  errorLog.mockRestore();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function post(body: unknown) {
  const res = await t.http().post('/graphql').set('content-type', 'application/json').send(body as object);
  return { status: res.status, codes: (res.body?.errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code), messages: (res.body?.errors ?? []).map((e: { message: string }) => e.message), text: res.text };
}

const QUERY = '{ gpuTypes { name } }';

it.each([
  ['a persisted-query hash that does not match the query', { query: QUERY, extensions: { persistedQuery: { version: 1, sha256Hash: sha256('something else') } } }, 400, 'BAD_REQUEST'],
  ['an unsupported persisted-query version', { query: QUERY, extensions: { persistedQuery: { version: 2, sha256Hash: sha256(QUERY) } } }, 400, 'BAD_REQUEST'],
  ['a persisted-query hash the server does not know', { extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ me { id } }') } } }, 200, 'PERSISTED_QUERY_NOT_FOUND'],
  ['no query at all', { variables: {} }, 400, 'BAD_REQUEST'],
  ['a query that does not parse', { query: '{ gpuTypes { name ' }, 400, 'GRAPHQL_PARSE_FAILED'],
  ['a query that does not validate', { query: '{ noSuchField }' }, 400, 'GRAPHQL_VALIDATION_FAILED'],
  ['two operations and no operationName', { query: 'query A { gpuTypes { name } } query B { gpuTypes { name } }' }, 400, 'OPERATION_RESOLUTION_FAILURE'],
  ['a variable of the wrong type', { query: 'query($first: Int) { listings(first: $first) { totalCount } }', variables: { first: 'twenty' } }, 400, 'BAD_USER_INPUT'],
])('%s: the request error keeps its code, at warn level at most', async (_what, body, status, code) => {
  const res = await post(body);
  expect({ status: res.status, codes: res.codes }).toEqual({ status, codes: [code] });
  expect(res.text).not.toMatch(/INTERNAL_SERVER_ERROR|stacktrace/);
  expect(errorLog).not.toHaveBeenCalled();
});

it('a registered persisted query is served by its hash afterwards', async () => {
  const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(QUERY) } };
  expect((await post({ query: QUERY, extensions })).codes).toEqual([]);
  const byHash = await post({ extensions });
  expect({ status: byHash.status, codes: byHash.codes }).toEqual({ status: 200, codes: [] });
});

it('a real fault stays INTERNAL_SERVER_ERROR, logged at error level, with no internals in the answer', async () => {
  // The operator's integrity check over a dropped table: a fault of the server, not of the request.
  await t.db.dataSource.query('ALTER TABLE ledger_accounts RENAME TO ledger_accounts_gone');
  try {
    const res = await t.http().post('/graphql').set('authorization', `Bearer ${OPERATOR_KEY}`).send({ query: '{ ledgerIntegrity { balanced } }' });
    expect(res.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(res.body.errors[0].message).toBe('Internal server error');
    expect(errorLog).toHaveBeenCalled();
  } finally {
    await t.db.dataSource.query('ALTER TABLE ledger_accounts_gone RENAME TO ledger_accounts');
  }
});
