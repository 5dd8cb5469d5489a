/**
 * The built API (`dist/apps/api/src/main.js`) with the V8 CPU profiler under the parent's control,
 * for the gateway bench's profile mode (BENCH_CPU_PROFILE=<folder>). spawnApi() removes
 * NODE_OPTIONS and takes no node flags, so `--cpu-prof` cannot be passed; this entry point loads
 * main.js in the same process instead. Each SIGUSR2 toggles the profiler: the first starts it, the
 * second writes `<folder>/api-<n>.cpuprofile` (open it in Chrome DevTools or speedscope), and so on.
 * Only the windows the bench chooses are profiled, not the boot or the setup.
 */
import { Session } from 'node:inspector/promises';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const folder = process.env.BENCH_CPU_PROFILE_DIR;
if (!folder) throw new Error('BENCH_CPU_PROFILE_DIR is not set');

const session = new Session();
session.connect();
await session.post('Profiler.enable');
// 1 ms sampling (V8's default is 1 ms too; set so the figures are comparable between runs).
await session.post('Profiler.setSamplingInterval', { interval: 1000 });

let running = false;
let count = 0;
let busy: Promise<void> = Promise.resolve();
process.on('SIGUSR2', () => {
  busy = busy.then(async () => {
    if (!running) {
      await session.post('Profiler.start');
      running = true;
      return;
    }
    const { profile } = await session.post('Profiler.stop');
    running = false;
    count += 1;
    const file = join(folder, `api-${count}.cpuprofile`);
    // Written to a temp name first, so the parent never reads half a file.
    await writeFile(`${file}.tmp`, JSON.stringify(profile));
    await rename(`${file}.tmp`, file);
  });
});

await import('../../apps/api/src/main.js');
