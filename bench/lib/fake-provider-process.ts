/**
 * The fake provider (scripts/lib/fake-provider.ts) in a process of its own, for the gateway bench:
 * so its CPU time is counted apart from the load generator's, and its event loop does not share a
 * thread with the 32 clients. Started with an IPC channel (`fork`); it reports
 * `{ type: 'ready', url, port }` once it listens on 127.0.0.1, and stops when the parent goes away
 * or sends SIGTERM. Options come from the environment: FAKE_PROVIDER_LATENCY_MS (default 20).
 */
import { startFakeProvider } from '../../scripts/lib/fake-provider.js';

const latencyMs = Number(process.env.FAKE_PROVIDER_LATENCY_MS ?? '20');

async function main(): Promise<void> {
  const fake = await startFakeProvider({ latencyMs });
  // The provider keeps every request for tests to inspect; a bench sends hundreds of thousands.
  setInterval(() => {
    fake.requests.length = 0;
  }, 1000).unref();
  const stop = () => {
    void fake.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.send?.({ type: 'ready', url: fake.url, port: fake.port });
}

main().catch((error: unknown) => {
  process.stderr.write(`fake provider failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
