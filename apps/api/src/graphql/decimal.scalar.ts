import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { Decimal } from '@ccx/core';

const PLAIN_DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function parseDecimalText(value: unknown): string {
  if (typeof value !== 'string') throw badInput('Decimal values are strings such as "12.50", not numbers');
  if (value.length > 64 || !PLAIN_DECIMAL.test(value)) {
    throw badInput(`"${value.slice(0, 40)}" is not a plain decimal such as "12.50"`);
  }
  return value;
}

/**
 * `Decimal`: an exact number carried as a string ("1234.56"), never a float. Input is checked for
 * plain decimal notation here; each service then checks the scale and sign its field needs.
 * Use as `@Field(() => DecimalScalar)`.
 */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'A decimal number sent as a string, e.g. "1234.56". Never a float.',
  parseValue: parseDecimalText,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput('Decimal values are strings such as "12.50", not numbers');
    return parseDecimalText(ast.value);
  },
  serialize(value: unknown): string {
    if (Decimal.isBigNumber(value)) return (value as Decimal).toFixed();
    if (typeof value === 'string') return value;
    throw new GraphQLError('Decimal fields must be produced from Decimal values');
  },
});
