import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one API process. A registry of its own (not prom-client's global one), so
 * several apps in one process — tests — never collide. Labels never carry organization ids or keys.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'ccx_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'ccx_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly usageEvents = new Counter({
    name: 'ccx_usage_events_total',
    help: 'Usage events by outcome (accepted, duplicate, rejected) and rejection code',
    labelNames: ['status', 'code'] as const,
    registers: [this.registry],
  });

  readonly ledgerTransactions = new Counter({
    name: 'ccx_ledger_transactions_total',
    help: 'Ledger transactions written by this process',
    registers: [this.registry],
  });

  readonly servicingRuns = new Counter({
    name: 'ccx_servicing_runs_total',
    help: 'Servicing runs (ran: performed; skipped: another runner was busy)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly servicingDuration = new Histogram({
    name: 'ccx_servicing_duration_seconds',
    help: 'Duration of servicing runs',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'ccx_webhook_deliveries_total',
    help: 'Webhook delivery attempts by result (delivered, failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ccx_' });
  }

  /** A low-cardinality route label: the known endpoints, else "other". */
  static route(path: string): string {
    if (path.startsWith('/graphql')) return '/graphql';
    if (path.startsWith('/v1/usage/report')) return '/v1/usage/report.csv';
    if (path.startsWith('/v1/usage')) return '/v1/usage';
    if (path.startsWith('/v1/chat/completions')) return '/v1/chat/completions';
    if (path.startsWith('/v1/embeddings')) return '/v1/embeddings';
    if (path.startsWith('/v1/models')) return '/v1/models';
    if (path.startsWith('/health')) return path.startsWith('/health/ready') ? '/health/ready' : '/health';
    if (path.startsWith('/metrics')) return '/metrics';
    return 'other';
  }
}
