import type { Principal } from './principal.js';

/**
 * The port through which auth turns a bearer key into a principal; the module that owns the keys
 * (organizations) implements it and `AuthModule.forRoot` binds it, so auth depends on no domain
 * module. Implementations look keys up by their SHA-256, so the comparison never runs over the
 * secret itself, and cache nothing: a revoked key is refused by the next request, in every API
 * process. The class is the injection token (the access guard and the rate limiter ask for it).
 */
export abstract class ApiKeyAuthenticator {
  /** The principal behind an active key, or null when there is none. */
  abstract authenticate(key: string): Promise<Principal | null>;
}
