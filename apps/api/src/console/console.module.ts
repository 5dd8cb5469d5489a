import { Inject, Module, RequestMethod, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { ServeStaticModule } from '@nestjs/serve-static';
import type { Response } from 'express';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { API_PATHS, consoleDir } from './console-files.js';
import { graphiqlPage } from './graphiql-page.middleware.js';

/**
 * Serves the console (apps/web, built by `npm run build` into dist/web, or CCX_CONSOLE_DIR) at `/`: its files, and
 * index.html for any other GET outside the API's paths (the single-page app's routes). With
 * introspection on (CCX_GRAPHQL_INTROSPECTION), also the bundled GraphiQL at `GET /graphql` in a
 * browser.
 */
@Module({})
export class ConsoleModule implements NestModule {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  static forRoot(): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [
        ServeStaticModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => [
            {
              rootPath: config.consoleDir ?? consoleDir(),
              exclude: API_PATHS,
              serveStaticOptions: {
                // Vite names assets by content hash: they never change. The pages always revalidate.
                setHeaders: (res: Response, path: string) =>
                  res.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
              },
            },
          ],
        }),
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    if (this.config.graphqlIntrospection) consumer.apply(graphiqlPage(this.config.consoleDir ?? consoleDir())).forRoutes({ path: 'graphql', method: RequestMethod.GET });
  }
}
