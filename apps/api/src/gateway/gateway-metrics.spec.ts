import { MetricsService } from '../observability/metrics.service.js';
import { GatewayMetrics } from './gateway-metrics.js';

/** Distinct `endpoint` label values in the registry's gateway series. */
async function endpointsIn(metrics: MetricsService): Promise<Set<string>> {
  const found = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    if (!metric.name.startsWith('ccx_gateway_') || metric.name === 'ccx_gateway_requests_total') continue;
    for (const value of metric.values) if (value.labels.endpoint !== undefined) found.add(String(value.labels.endpoint));
  }
  return found;
}

describe('GatewayMetrics', () => {
  it('keeps series for at most MAX_ENDPOINTS endpoints, dropping the least recently used', async () => {
    const metrics = new MetricsService();
    const gateway = new GatewayMetrics(metrics);
    const max = GatewayMetrics.MAX_ENDPOINTS;
    const use = (id: string) => {
      gateway.attempt(id, 'ok');
      gateway.attempt(id, 'failed');
      gateway.timed(id, 0.2, 0.05);
      gateway.circuitState(id, 'OPEN');
    };
    for (let i = 0; i < max; i++) use(`e${i}`);
    gateway.attempt('e0', 'client_error'); // e0 is now the most recently used; e1 the least
    use('new');

    const endpoints = await endpointsIn(metrics);
    expect(gateway.endpointCount).toBe(max);
    expect(endpoints.size).toBe(max);
    expect(endpoints.has('e1')).toBe(false);
    expect(endpoints.has('e0')).toBe(true);
    expect(endpoints.has('new')).toBe(true);

    // Many more endpoints than the cap: the series stay at the cap.
    for (let i = 0; i < 3 * max; i++) use(`more${i}`);
    expect((await endpointsIn(metrics)).size).toBe(max);
  });

  it('keeps counting an endpoint that stays in use', async () => {
    const metrics = new MetricsService();
    const gateway = new GatewayMetrics(metrics);
    gateway.attempt('a', 'ok');
    gateway.attempt('a', 'ok');
    gateway.timed('a', 0.1, 0.01);
    const attempts = (await metrics.registry.getSingleMetric('ccx_gateway_attempts_total')!.get()).values;
    expect(attempts).toEqual([{ labels: { endpoint: 'a', outcome: 'ok' }, value: 2 }]);
  });
});
