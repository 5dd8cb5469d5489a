import { DomainError } from '@ccx/core';

/**
 * What a parser or rule refused, in the terms a user sees (code, field, message), or null when it
 * accepted. Anything but a DomainError is a bug and is thrown on, so a spec cannot pass on it.
 */
export function refusalOf(run: () => unknown): { code: string; field: unknown; message: string } | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { code: error.code, field: error.details.field, message: error.message };
  }
}
