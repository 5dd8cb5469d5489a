import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../observability/metrics.service.js';

const STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;

/** Prometheus series of the gateway, per endpoint id (never an organization or a key). */
@Injectable()
export class GatewayMetrics {
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
    this.circuit.set({ endpoint }, STATE_VALUE[state]);
  }
}
