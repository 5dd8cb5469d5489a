import { randomUUID } from 'node:crypto';
import { NotFoundError } from '@ccx/core';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id from outside: a malformed one cannot name anything, so it is simply NOT_FOUND. */
export function parseId(value: unknown, what: string): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new NotFoundError(`${what} ${String(value).slice(0, 60)} not found`);
  return value.toLowerCase();
}

export function newId(): string {
  return randomUUID();
}
