import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app-config.js';
import { startServer } from './bootstrap.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const server = await startServer(config);
  // A parent that started us with an IPC channel (the e2e specs, the demo, the benches) learns the
  // port from us: with PORT=0 the kernel chose it, so no other process can be listening on it.
  if (process.send && server.port !== null) process.send({ type: 'ccx:listening', port: server.port });
  const logger = new Logger('Main');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: stopping the API, then the database`);
    await server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error) => {
  console.error(`CCX could not start: ${describe(error)}`);
  process.exit(1);
});

/** Always words: a rejection without a reason (or with an empty one) still says something. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error && error.cause.message && !error.message.includes(error.cause.message) ? ` (${error.cause.message})` : '';
    return `${error.message || error.name}${cause}`;
  }
  return error === undefined || error === null || error === '' ? 'an unknown failure (no reason was given)' : String(error);
}
