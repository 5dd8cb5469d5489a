import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../observability/metrics.service.js';

const STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;
const OUTCOMES = ['ok', 'client_error', 'failed'] as const;

/**
 * Prometheus series of the gateway, per endpoint id (never an organization or a key).
 *
 * Label values are memory: each endpoint adds about 30 series (a counter per outcome, two
 * histograms, a gauge) for the life of the process. So at most MAX_ENDPOINTS endpoints have series
 * at once: past that, the least recently used endpoint's series are removed (as the upstream
 * client closes its connection pool). If it is used again its series start again from zero,
 * which Prometheus reads as a counter reset.
 */
@Injectable()
export class GatewayMetrics {
  static readonly MAX_ENDPOINTS = 1_000;
  /** Endpoints that have series, least recently used first. */
  private readonly endpoints = new Set<string>();
  readonly attempts: Counter<'endpoint' | 'outcome'>;
  readonly latency: Histogram<'endpoint'>;
  readonly ttft: Histogram<'endpoint'>;
  readonly circuit: Gauge<'endpoint'>;
  readonly requests: Counter<'status'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.attempts = new Counter({
      name: 'ccx_gateway_attempts_total',
      help: 'Provider attempts by endpoint and outcome (ok, client_error, failed)',
      labelNames: ['endpoint', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'ccx_gateway_attempt_duration_seconds',
      help: 'Provider attempt duration by endpoint, to the end of the answer',
      labelNames: ['endpoint'],
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.ttft = new Histogram({
      name: 'ccx_gateway_time_to_first_token_seconds',
      help: 'Time from the request to the first body byte of a provider, by endpoint',
      labelNames: ['endpoint'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.circuit = new Gauge({
      name: 'ccx_gateway_circuit_state',
      help: 'Circuit of each endpoint as this process last saw it: 0 closed, 1 half-open, 2 open',
      labelNames: ['endpoint'],
      registers,
    });
    this.requests = new Counter({
      name: 'ccx_gateway_requests_total',
      help: 'Gateway requests by final status (SUCCEEDED, FAILED, REFUSED, CANCELLED)',
      labelNames: ['status'],
      registers,
    });
  }

  circuitState(endpoint: string, state: keyof typeof STATE_VALUE): void {
    this.circuit.set({ endpoint: this.seen(endpoint) }, STATE_VALUE[state]);
  }

  /** One provider attempt of `endpoint` and how it ended. */
  attempt(endpoint: string, outcome: (typeof OUTCOMES)[number]): void {
    this.attempts.inc({ endpoint: this.seen(endpoint), outcome });
  }

  /** A completed attempt's duration and time to first byte, seconds. */
  timed(endpoint: string, seconds: number, ttftSeconds: number): void {
    this.latency.observe({ endpoint: this.seen(endpoint) }, seconds);
    this.ttft.observe({ endpoint }, ttftSeconds);
  }

  /** Endpoints that have series (for tests). */
  get endpointCount(): number {
    return this.endpoints.size;
  }

  /** Marks `endpoint` most recently used; past MAX_ENDPOINTS, removes the series of the least recently used. */
  private seen(endpoint: string): string {
    this.endpoints.delete(endpoint);
    this.endpoints.add(endpoint);
    if (this.endpoints.size > GatewayMetrics.MAX_ENDPOINTS) {
      const oldest = this.endpoints.values().next().value!;
      this.endpoints.delete(oldest);
      for (const outcome of OUTCOMES) this.attempts.remove({ endpoint: oldest, outcome });
      this.latency.remove({ endpoint: oldest });
      this.ttft.remove({ endpoint: oldest });
      this.circuit.remove({ endpoint: oldest });
    }
    return endpoint;
  }
}
