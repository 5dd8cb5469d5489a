import { Decimal } from './decimal.js';

/**
 * The single TypeORM ValueTransformer between PostgreSQL `numeric` (which `pg` returns as a
 * string) and `Decimal`. Structural type, so this library does not depend on TypeORM.
 */
export const numericTransformer = {
  to(value: Decimal | string | null | undefined): string | null | undefined {
    if (value === null || value === undefined) return value;
    return new Decimal(value).toFixed();
  },
  from(value: string | null): Decimal | null {
    return value === null ? null : new Decimal(value);
  },
};
