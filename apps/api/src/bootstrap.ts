import 'reflect-metadata';
import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json } from 'express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { runMigrations } from './database/data-source.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres.js';

export interface RunningServer {
  app: INestApplication;
  databaseUrl: string;
  /** The port the API listens on (the one the kernel chose when PORT=0); null when not listening. */
  port: number | null;
  /** Stops the API, then the embedded database (if this process started one). */
  close(): Promise<void>;
}

/**
 * Starts CCX: the embedded PostgreSQL when no DATABASE_URL is configured, pending migrations,
 * then the API. Used by main.ts and by the tests, so both boot the same way.
 */
export async function startServer(config: AppConfig, options: { listen?: boolean; schemaFile?: string } = {}): Promise<RunningServer> {
  const logger = new Logger('Bootstrap');
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    logger.log(`starting embedded PostgreSQL in ${config.dataDir} on port ${config.embeddedPgPort}`);
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    databaseUrl = embedded.url;
  }
  try {
    await runMigrations(databaseUrl);
    const app = await NestFactory.create<NestExpressApplication>(
      AppModule.forRoot({ config, databaseUrl, schemaFile: options.schemaFile }),
      { bufferLogs: true, bodyParser: true },
    );
    // Structured JSON logs (pino) from here on, one request id per request.
    app.useLogger(app.get(PinoLogger));
    // Prompts can be large: the gateway's paths take up to CCX_GATEWAY_MAX_BODY_BYTES, the rest 1 MB.
    // (The first JSON parser to read a body wins, so the gateway's come first.)
    for (const path of ['/v1/chat/completions', '/v1/embeddings']) app.use(path, json({ limit: config.gateway.maxBodyBytes }));
    app.useBodyParser('json', { limit: '1mb' });
    let port: number | null = null;
    if (options.listen !== false) {
      await app.listen(config.port, '0.0.0.0');
      const address = app.getHttpServer().address();
      port = typeof address === 'object' && address ? address.port : config.port;
      logger.log(`CCX API on http://localhost:${port}/graphql (health: /health)`);
    } else {
      await app.init();
    }
    let closed = false;
    return {
      app,
      databaseUrl,
      port,
      close: async () => {
        if (closed) return;
        closed = true;
        await app.close();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}
