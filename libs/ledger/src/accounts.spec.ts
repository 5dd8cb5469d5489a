import { AccountRegistry, MAX_CACHED_ACCOUNTS } from './accounts.js';
import type { SqlRunner } from './types.js';

/**
 * The registry's cache of account definitions, against a runner that answers any id asked for
 * (no database: only what is read and what is kept is under test).
 */
function fakeRunner() {
  const asked: string[][] = [];
  const runner: SqlRunner = {
    query: async (_sql: string, params?: unknown[]) => {
      const ids = (params?.[0] as string[]) ?? [];
      asked.push(ids);
      return ids.map((id) => ({
        id,
        code: `acct-${id}`,
        asset: 'CREDIT',
        scale: 6,
        owner_ref: null,
        allow_negative: false,
        allow_positive: true,
        shards: 1,
      }));
    },
  };
  return { runner, asked };
}

describe('AccountRegistry cache', () => {
  it('reads an account once, then serves it from memory', async () => {
    const { runner, asked } = fakeRunner();
    const registry = new AccountRegistry();
    expect((await registry.get(runner, '7')).code).toBe('acct-7');
    expect((await registry.get(runner, '7')).code).toBe('acct-7');
    expect(asked).toEqual([['7']]);
  });

  it('keeps at most MAX_CACHED_ACCOUNTS definitions, forgetting the oldest', async () => {
    const { runner, asked } = fakeRunner();
    const registry = new AccountRegistry();
    const size = () => (registry as unknown as { cache: Map<string, unknown> }).cache.size;
    const ids = Array.from({ length: MAX_CACHED_ACCOUNTS + 1 }, (_, i) => String(i + 1));
    await registry.load(runner, ids);
    expect(size()).toBe(MAX_CACHED_ACCOUNTS);
    asked.length = 0;
    // The newest are still cached; the first one read was dropped and is read again.
    await registry.load(runner, [String(MAX_CACHED_ACCOUNTS + 1), '2']);
    expect(asked).toEqual([]);
    await registry.load(runner, ['1']);
    expect(asked).toEqual([['1']]);
    expect(size()).toBe(MAX_CACHED_ACCOUNTS);
  });
});
