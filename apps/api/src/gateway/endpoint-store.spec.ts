import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { EndpointStore } from './endpoint-store.js';

/** A DataSource whose every query answers no rows, counting the statements. */
function fakeDataSource() {
  const sent: string[] = [];
  const dataSource = {
    query: async (sql: string) => {
      sent.push(sql);
      return [];
    },
  } as unknown as DataSource;
  return { dataSource, sent };
}

describe('EndpointStore routing cache', () => {
  const config = { gateway: { routingCacheMs: 60_000 } } as AppConfig;
  const now = new Date('2026-06-01T00:00:00Z');

  it('reuses a model set read within routingCacheMs', async () => {
    const { dataSource, sent } = fakeDataSource();
    const store = new EndpointStore(dataSource, config);
    await store.routingCached(['a'], now, now);
    await store.routingCached(['a'], now, new Date(now.getTime() + 1_000));
    expect(sent).toHaveLength(1);
    await store.routingCached(['a'], now, new Date(now.getTime() + 61_000));
    expect(sent).toHaveLength(2);
  });

  it('keeps at most 1,000 model sets, forgetting the oldest', async () => {
    const { dataSource, sent } = fakeDataSource();
    const store = new EndpointStore(dataSource, config);
    for (let i = 0; i <= 1_000; i++) await store.routingCached([`model-${i}`], now, now);
    expect(sent).toHaveLength(1_001);
    expect((store as unknown as { cache: Map<string, unknown> }).cache.size).toBe(1_000);
    // The newest are still cached; the first was evicted and is read again.
    await store.routingCached(['model-1000'], now, now);
    expect(sent).toHaveLength(1_001);
    await store.routingCached(['model-0'], now, now);
    expect(sent).toHaveLength(1_002);
    expect((store as unknown as { cache: Map<string, unknown> }).cache.size).toBe(1_000);
  });
});
