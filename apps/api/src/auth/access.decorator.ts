import { SetMetadata } from '@nestjs/common';
import type { Role } from './principal.js';

export const ACCESS_KEY = 'ccx:access';

/** 'PUBLIC': anyone, even without a key; 'AUTHENTICATED': any organization; or a list of roles. */
export type AccessRule = 'PUBLIC' | 'AUTHENTICATED' | Role;

/**
 * Declares who may call an operation (SPEC §2). The one global `AccessGuard` enforces it; an
 * operation without this decorator is refused to everyone, so a forgotten rule fails closed.
 */
export const Access = (...rules: AccessRule[]) => SetMetadata(ACCESS_KEY, rules);
