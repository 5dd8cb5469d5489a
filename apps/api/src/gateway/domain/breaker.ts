/** The circuit breaker of one endpoint (SPEC §12), as pure rules over its stored state. */
export const CircuitState = {
  CLOSED: 'CLOSED',
  OPEN: 'OPEN',
  HALF_OPEN: 'HALF_OPEN',
} as const;
/** Defined once: the breaker's rules, the stored circuits and the GraphQL enum use it. */
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

export interface Circuit {
  state: CircuitState;
  consecutiveFailures: number;
  /** While OPEN: when a probe may be tried. */
  openUntil: Date | null;
  /** While HALF_OPEN: until when the probe in flight holds the right to decide. */
  probeUntil: Date | null;
}

export interface BreakerSettings {
  /** Opens after this many failures in a row (5). */
  consecutiveFailures: number;
  /** ... or when more than `failureRatio` of at least `minRequests` in the window failed. */
  windowMs: number;
  minRequests: number;
  failureRatio: number;
  /** How long it stays open before one probe decides (30 s). */
  openMs: number;
  /** How long a probe may take before another process may probe instead. */
  probeLeaseMs: number;
}

export const CLOSED: Circuit = { state: 'CLOSED', consecutiveFailures: 0, openUntil: null, probeUntil: null };

/** How routing may use an endpoint now: freely, as the one probe (to be claimed), or not at all. */
export function routable(c: Circuit, now: Date): 'closed' | 'probe' | 'open' {
  if (c.state === 'CLOSED') return 'closed';
  if (c.state === 'OPEN') return c.openUntil && c.openUntil.getTime() <= now.getTime() ? 'probe' : 'open';
  // HALF_OPEN: a probe is in flight; if it never reported, its lease runs out and another may probe.
  return c.probeUntil && c.probeUntil.getTime() <= now.getTime() ? 'probe' : 'open';
}

/** The state once a probe is claimed. */
export function claimProbe(c: Circuit, now: Date, s: BreakerSettings): Circuit {
  return { ...c, state: 'HALF_OPEN', probeUntil: new Date(now.getTime() + s.probeLeaseMs) };
}

/**
 * After a failed attempt. `window` counts the last `windowMs` including this failure. A failed
 * probe re-opens at once; a closed circuit opens on the consecutive or the ratio rule.
 */
export function afterFailure(c: Circuit, window: { requests: number; failures: number }, now: Date, s: BreakerSettings): Circuit {
  const consecutiveFailures = c.consecutiveFailures + 1;
  const open: Circuit = { state: 'OPEN', consecutiveFailures, openUntil: new Date(now.getTime() + s.openMs), probeUntil: null };
  if (c.state === 'HALF_OPEN') return open;
  if (c.state === 'OPEN') return { ...c, consecutiveFailures };
  const ratioTripped = window.requests >= s.minRequests && window.failures > window.requests * s.failureRatio;
  if (consecutiveFailures >= s.consecutiveFailures || ratioTripped) return open;
  return { ...c, consecutiveFailures };
}

/** After a successful attempt: the failure streak ends; a successful probe closes the circuit. */
export function afterSuccess(c: Circuit): Circuit {
  if (c.state === 'HALF_OPEN') return CLOSED;
  return { ...c, consecutiveFailures: 0 };
}

/** Seconds until the first open circuit among these may be probed (for Retry-After), or null. */
export function retryAfterSeconds(circuits: Circuit[], now: Date): number | null {
  const soonest = circuits
    .map((c) => (c.state === 'OPEN' && c.openUntil ? c.openUntil.getTime() : c.state === 'HALF_OPEN' && c.probeUntil ? c.probeUntil.getTime() : null))
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b)[0];
  return soonest === undefined ? null : Math.max(1, Math.ceil((soonest - now.getTime()) / 1000));
}
