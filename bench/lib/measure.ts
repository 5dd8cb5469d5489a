/**
 * What the benches share: number parsing from the environment, percentiles, the token mix of the
 * usage benches, and where the machine's CPU time went (Linux /proc; without it the CPU fields
 * are left out).
 */
import { readFileSync, readdirSync } from 'node:fs';

export function positiveNumber(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got ${text}`);
  return n;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The p-th percentile (nearest rank) of ascending values, rounded to 2 decimals; 0 when empty. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[index]);
}

/** Token counts cycled through by usage events: varied costs, no randomness on the hot path. */
export const TOKEN_MIX: [number, number][] = [
  [1000, 500],
  [250, 1200],
  [4096, 37],
  [12, 3],
  [800, 800],
  [31000, 2048],
  [1, 0],
  [0, 7],
];

/** USER_HZ: 100 on every mainstream Linux. */
const CLOCK_TICKS = 100;

/** The fields of /proc/<pid>/stat after "pid (comm) ": [0] state, [1] ppid, … [11] utime, [12] stime. */
function procStat(pid: string | number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) of one process; NaN without /proc. */
export function processSeconds(pid: number): number {
  const stat = procStat(pid);
  return stat ? (Number(stat[11]) + Number(stat[12])) / CLOCK_TICKS : Number.NaN;
}

function systemBusySeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of an embedded PostgreSQL: the postmaster and its children (with reaped ones). */
function postgresSeconds(postmasterPidFile: string | null): number | null {
  if (!postmasterPidFile) return null;
  try {
    const postmaster = Number(readFileSync(postmasterPidFile, 'utf8').split('\n')[0]);
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(entry)) continue;
      const stat = procStat(entry);
      if (!stat) continue;
      if (Number(entry) === postmaster || Number(stat[1]) === postmaster) {
        // utime stime cutime cstime
        ticks += Number(stat[11]) + Number(stat[12]) + Number(stat[13]) + Number(stat[14]);
      }
    }
    return ticks / CLOCK_TICKS;
  } catch {
    return null;
  }
}

interface CpuSample {
  at: number;
  busy: number;
  self: number;
  processes: number[];
  pg: number | null;
}

/**
 * Where the machine's CPU time went between begin() and end(), in % of one core (the machine
 * has `nproc` × 100 %): this process (`selfField`), the named other processes, the embedded
 * PostgreSQL (postmaster and its children; unknown for a DATABASE_URL server), everything else
 * (`cpuOtherPct`: other work on the box skews the figures) and the machine (`cpuMachineBusyPct`).
 */
export class CpuMeter {
  private start?: CpuSample;
  private readonly fields: string[];
  private readonly pids: number[];

  constructor(
    private readonly selfField: string,
    private readonly postmasterPidFile: string | null,
    processes: Record<string, number> = {},
  ) {
    this.fields = Object.keys(processes);
    this.pids = Object.values(processes);
  }

  begin(): void {
    this.start = this.sample();
  }

  end(): Record<string, number> {
    const a = this.start;
    const b = this.sample();
    if (!a || Number.isNaN(a.busy) || Number.isNaN(b.busy)) return {};
    const seconds = (b.at - a.at) / 1000;
    const pct = (cpuSeconds: number) => Math.round((cpuSeconds / seconds) * 100);
    const result: Record<string, number> = {};
    let known = b.self - a.self;
    this.fields.forEach((field, i) => {
      result[field] = pct(b.processes[i] - a.processes[i]);
      known += b.processes[i] - a.processes[i];
    });
    result[this.selfField] = pct(b.self - a.self);
    if (a.pg !== null && b.pg !== null) {
      result.cpuPostgresPct = pct(b.pg - a.pg);
      known += b.pg - a.pg;
      result.cpuOtherPct = Math.max(0, pct(b.busy - a.busy - known));
    }
    result.cpuMachineBusyPct = pct(b.busy - a.busy);
    return result;
  }

  private sample(): CpuSample {
    const usage = process.cpuUsage();
    return {
      at: performance.now(),
      busy: systemBusySeconds(),
      self: (usage.user + usage.system) / 1e6,
      processes: this.pids.map(processSeconds),
      pg: postgresSeconds(this.postmasterPidFile),
    };
  }
}
