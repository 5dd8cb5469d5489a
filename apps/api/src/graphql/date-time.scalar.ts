import { Scalar, type CustomScalar } from '@nestjs/graphql';
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { isRealInstant } from '../common/instants.js';

/** `DateTime`: an ISO-8601 instant; always answered in UTC, e.g. 2026-01-05T12:00:00.000Z. */
@Scalar('DateTime', () => Date)
export class DateTimeScalar implements CustomScalar<string, Date> {
  description = 'An ISO-8601 date-time string in UTC, e.g. 2026-01-05T12:00:00.000Z.';

  parseValue(value: unknown): Date {
    if (typeof value !== 'string' || !isRealInstant(value)) {
      throw new GraphQLError('DateTime values are ISO-8601 strings such as 2026-01-05T12:00:00Z', {
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    return new Date(value);
  }

  parseLiteral(ast: ValueNode): Date {
    if (ast.kind !== Kind.STRING) return this.parseValue(null);
    return this.parseValue(ast.value);
  }

  serialize(value: unknown): string {
    const date = value instanceof Date ? value : new Date(String(value));
    if (Number.isNaN(date.getTime())) throw new GraphQLError('invalid DateTime value');
    return date.toISOString();
  }
}
