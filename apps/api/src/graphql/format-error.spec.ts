import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from './format-error.js';

/** A driver error as `pg` and Node's sockets raise them, wrapped as TypeORM does. */
function failed(code: string | undefined, message: string): QueryFailedError {
  const driverError = Object.assign(new Error(message), code ? { code } : {});
  return new QueryFailedError('SELECT 1', [], driverError);
}

describe('isDatabaseUnavailable', () => {
  it.each([
    ['EPIPE', 'write EPIPE'],
    ['ECONNRESET', 'read ECONNRESET'],
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'],
    ['57P01', 'terminating connection due to administrator command'],
    ['08006', 'connection failure'],
    [undefined, 'Connection terminated unexpectedly'],
    [undefined, 'Client has encountered a connection error and is not queryable'],
  ])('counts %s (%s) as the database being unreachable', (code, message) => {
    expect(isDatabaseUnavailable(failed(code, message))).toBe(true);
  });

  it.each([
    ['23505', 'duplicate key value violates unique constraint'],
    ['40P01', 'deadlock detected'],
    [undefined, 'something else went wrong'],
  ])('does not count %s (%s)', (code, message) => {
    expect(isDatabaseUnavailable(failed(code, message))).toBe(false);
  });
});
