import { QueryFailedError, type EntityManager, type QueryRunner } from 'typeorm';
import type { SqlRunner } from './types.js';

/**
 * Rows of a statement. TypeORM answers UPDATE/DELETE with `[rows, count]` and everything else
 * with `rows`; this hides the difference.
 */
export async function rows<T = Record<string, any>>(
  runner: SqlRunner,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const result = await runner.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return (result ?? []) as T[];
}

/**
 * A statement the ledger sends often, under a fixed name: sent as a named (prepared) statement,
 * so PostgreSQL parses and plans it once per connection instead of on every call.
 */
export interface NamedSql {
  name: string;
  text: string;
}

/** `name` must be unique among the ledger's statements; one name, one text, for the process. */
export function namedSql(name: string, text: string): NamedSql {
  return { name: `ccx_ledger_${name}`, text };
}

/** The part of a `pg` client this uses (the postgres driver's `QueryRunner.databaseConnection`). */
interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * The TypeORM query runner under `runner` when it is bound to one postgres connection: the
 * runner itself, or the query runner of a transaction's `EntityManager`. Otherwise (e.g.
 * `dataSource.manager`, which takes a connection per query) undefined.
 */
export function boundPostgresRunner(runner: SqlRunner): QueryRunner | undefined {
  const candidate = runner as Partial<EntityManager & QueryRunner>;
  const queryRunner =
    candidate.queryRunner ?? (typeof candidate.connect === 'function' && 'isReleased' in candidate ? (candidate as QueryRunner) : undefined);
  if (!queryRunner || queryRunner.isReleased || queryRunner.connection?.options.type !== 'postgres') return undefined;
  return queryRunner;
}

/**
 * `rows` for a `NamedSql`: on a postgres connection held by a TypeORM query runner (a
 * transaction's manager, or a runner of its own) it goes to that runner's `pg` client as a named
 * statement (`client.query({ name, text, values })`; the client parses it once per connection).
 * It is logged and fails like `QueryRunner.query` (TypeORM's logger, `QueryFailedError` around
 * the driver's error, whose `code` the retry logic reads). Anything else: an unnamed `query`.
 */
export async function namedRows<T = Record<string, any>>(runner: SqlRunner, sql: NamedSql, params: unknown[]): Promise<T[]> {
  const queryRunner = boundPostgresRunner(runner);
  if (!queryRunner) return rows<T>(runner, sql.text, params);
  const client = (await queryRunner.connect()) as PgClient;
  const logger = queryRunner.connection.logger;
  logger.logQuery(sql.text, params, queryRunner);
  try {
    const result = await client.query({ name: sql.name, text: sql.text, values: params });
    return result.rows as T[];
  } catch (error) {
    logger.logQueryError(error as Error, sql.text, params, queryRunner);
    throw new QueryFailedError(sql.text, params, error as Error);
  }
}

/** JSON with sorted object keys, so equal content always has equal text (idempotency hashes). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
