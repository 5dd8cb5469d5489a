import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_CONFIG } from './tokens.js';
import type { AppConfig } from './app-config.js';

/**
 * Makes the validated `AppConfig` injectable everywhere (token APP_CONFIG). The configuration is
 * loaded and validated once by `loadConfig` before the app is built (main.ts), so a bad value
 * stops the start with a message naming the variable.
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
