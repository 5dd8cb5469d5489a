import { Global, Module, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccessGuard } from './access.guard.js';
import { ApiKeyAuthenticator } from './api-key-authenticator.js';

export interface AuthModuleOptions {
  /** The modules that provide `authenticator`. */
  imports: NonNullable<ModuleMetadata['imports']>;
  /** What implements the key lookup (the module that owns API keys). */
  authenticator: Type<ApiKeyAuthenticator>;
}

/**
 * The global access guard (SPEC §2) and the `ApiKeyAuthenticator` port it reads keys through.
 * The app module names the implementation, so auth imports no domain module (which all import
 * auth's decorators). Global because the guard is, and the rate limiter reuses the port.
 */
@Global()
@Module({})
export class AuthModule {
  static forRoot(options: AuthModuleOptions): DynamicModule {
    return {
      module: AuthModule,
      imports: options.imports,
      providers: [{ provide: ApiKeyAuthenticator, useExisting: options.authenticator }, { provide: APP_GUARD, useClass: AccessGuard }],
      exports: [ApiKeyAuthenticator],
    };
  }
}
