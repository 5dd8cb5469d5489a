import { ConfigError, loadConfig } from './app-config.js';

/** A gateway key: production refuses to start without one. */
const KEY = 'ab'.repeat(32);

describe('loadConfig', () => {
  it('has working defaults', () => {
    const config = loadConfig({}, '/srv/ccx');
    expect(config).toMatchObject({
      nodeEnv: 'development',
      logLevel: 'info',
      port: 3000,
      databaseUrl: null,
      dataDir: '/srv/ccx/.data/pg',
      embeddedPgPort: 54329,
      operatorKey: null,
      testClock: false,
      clockStart: null,
      webhookIntervalMs: 1000,
      allowPrivateUrls: false,
      graphqlLimits: { maxDepth: 10, maxAliases: 30, maxComplexity: 1000 },
      graphqlIntrospection: true,
      rateLimit: { perKey: { perMinute: 6000, burst: 1000 }, perIp: { perMinute: 1200, burst: 300 } },
    });
  });

  it('reads the request limits', () => {
    const config = loadConfig({
      CCX_GRAPHQL_MAX_DEPTH: '6',
      CCX_GRAPHQL_MAX_ALIASES: '0',
      CCX_GRAPHQL_MAX_COMPLEXITY: '250',
      CCX_RATE_LIMIT_PER_KEY: '0',
      CCX_RATE_LIMIT_PER_IP: '120',
      CCX_RATE_LIMIT_PER_IP_BURST: '20',
    });
    expect(config.graphqlLimits).toEqual({ maxDepth: 6, maxAliases: 0, maxComplexity: 250 });
    expect(config.rateLimit).toEqual({ perKey: { perMinute: 0, burst: 1 }, perIp: { perMinute: 120, burst: 20 }, redisUrl: null });
  });

  it('shares the rate limits through Redis only when REDIS_URL is a redis URL', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/2' }).rateLimit.redisUrl).toBe('redis://127.0.0.1:6379/2');
    expect(loadConfig({ REDIS_URL: '' }).rateLimit.redisUrl).toBeNull();
    expect(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL/);
  });

  it('caps the default burst at the rate, so a small rate is never exceeded at once', () => {
    expect(loadConfig({ CCX_RATE_LIMIT_PER_KEY: '5', CCX_RATE_LIMIT_PER_IP: '5' }).rateLimit).toEqual({
      perKey: { perMinute: 5, burst: 5 },
      perIp: { perMinute: 5, burst: 5 },
      redisUrl: null,
    });
  });

  it.each([
    [{}, true],
    [{ NODE_ENV: 'test' }, true],
    [{ NODE_ENV: 'production', CCX_GATEWAY_SECRET_KEY: KEY }, false],
    [{ NODE_ENV: 'production', CCX_GATEWAY_SECRET_KEY: KEY, CCX_GRAPHQL_INTROSPECTION: 'true' }, true],
    [{ NODE_ENV: 'development', CCX_GRAPHQL_INTROSPECTION: 'false' }, false],
  ])('introspection with %p: %s', (env, expected) => {
    expect(loadConfig(env).graphqlIntrospection).toBe(expected);
  });

  it.each([
    [{}, 'info'],
    [{ NODE_ENV: 'production', CCX_GATEWAY_SECRET_KEY: KEY }, 'info'],
    [{ NODE_ENV: 'test' }, 'error'],
    [{ NODE_ENV: 'test', LOG_LEVEL: 'debug' }, 'debug'],
    [{ LOG_LEVEL: 'silent' }, 'silent'],
  ])('log level with %p: %s', (env, expected) => {
    expect(loadConfig(env).logLevel).toBe(expected);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/ccx',
      CCX_DATA_DIR: '/var/lib/ccx',
      CCX_OPERATOR_KEY: 'k'.repeat(32),
      CCX_TEST_CLOCK: 'true',
      CCX_CLOCK_START: '2026-01-05T12:00:00Z',
      NODE_ENV: 'test',
      CCX_WEBHOOK_INTERVAL_MS: '0',
    });
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/ccx');
    expect(config.dataDir).toBe('/var/lib/ccx');
    expect(config.testClock).toBe(true);
    expect(config.clockStart?.toISOString()).toBe('2026-01-05T12:00:00.000Z');
    expect(config.webhookIntervalMs).toBe(0);
  });

  it.each([
    [{}, false],
    [{ NODE_ENV: 'test' }, false],
    [{ CCX_ALLOW_PRIVATE_URLS: 'true' }, true],
    [{ CCX_ALLOW_PRIVATE_URLS: '1' }, true],
    [{ CCX_ALLOW_PRIVATE_URLS: 'false' }, false],
  ])('private outbound URLs with %p: %s (SSRF: off unless asked for)', (env, expected) => {
    expect(loadConfig(env).allowPrivateUrls).toBe(expected);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ CCX_OPERATOR_KEY: 'short' }, 'CCX_OPERATOR_KEY'],
    [{ CCX_TEST_CLOCK: 'yes please' }, 'CCX_TEST_CLOCK'],
    [{ CCX_CLOCK_START: 'tomorrow' }, 'CCX_CLOCK_START'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ LOG_LEVEL: 'INFO' }, 'LOG_LEVEL'],
    [{ NODE_ENV: 'production', CCX_GATEWAY_SECRET_KEY: KEY, CCX_TEST_CLOCK: 'true' }, 'CCX_TEST_CLOCK'],
    [{ NODE_ENV: 'production' }, 'CCX_GATEWAY_SECRET_KEY'],
    [{ CCX_GATEWAY_SECRET_KEY: 'not-hex' }, 'CCX_GATEWAY_SECRET_KEY'],
    [{ CCX_GATEWAY_FIRST_BYTE_TIMEOUT_MS: '0' }, 'CCX_GATEWAY_FIRST_BYTE_TIMEOUT_MS'],
    [{ CCX_GATEWAY_BREAKER_OPEN_MS: 'soon' }, 'CCX_GATEWAY_BREAKER_OPEN_MS'],
    [{ CCX_GATEWAY_BREAKER_FAILURES: '0' }, 'CCX_GATEWAY_BREAKER_FAILURES'],
    [{ CCX_GATEWAY_MAX_ATTEMPTS: '11' }, 'CCX_GATEWAY_MAX_ATTEMPTS'],
    [{ CCX_PG_PORT: '5432' }, 'CCX_PG_PORT'],
    [{ CCX_WEBHOOK_INTERVAL_MS: '-1' }, 'CCX_WEBHOOK_INTERVAL_MS'],
    [{ CCX_WEBHOOK_INTERVAL_MS: '1.5' }, 'CCX_WEBHOOK_INTERVAL_MS'],
    [{ CCX_WEBHOOK_INTERVAL_MS: 'often' }, 'CCX_WEBHOOK_INTERVAL_MS'],
    [{ CCX_GRAPHQL_MAX_DEPTH: '0' }, 'CCX_GRAPHQL_MAX_DEPTH'],
    [{ CCX_GRAPHQL_MAX_DEPTH: 'deep' }, 'CCX_GRAPHQL_MAX_DEPTH'],
    [{ CCX_GRAPHQL_MAX_ALIASES: '-1' }, 'CCX_GRAPHQL_MAX_ALIASES'],
    [{ CCX_GRAPHQL_MAX_COMPLEXITY: '0' }, 'CCX_GRAPHQL_MAX_COMPLEXITY'],
    [{ CCX_GRAPHQL_INTROSPECTION: 'maybe' }, 'CCX_GRAPHQL_INTROSPECTION'],
    [{ CCX_RATE_LIMIT_PER_KEY: '100/min' }, 'CCX_RATE_LIMIT_PER_KEY'],
    [{ CCX_RATE_LIMIT_PER_IP: '-5' }, 'CCX_RATE_LIMIT_PER_IP'],
    [{ CCX_RATE_LIMIT_PER_KEY_BURST: '0' }, 'CCX_RATE_LIMIT_PER_KEY_BURST'],
    [{ CCX_RATE_LIMIT_PER_IP_BURST: 'lots' }, 'CCX_RATE_LIMIT_PER_IP_BURST'],
    [{ CCX_ALLOW_PRIVATE_URLS: 'yes' }, 'CCX_ALLOW_PRIVATE_URLS'],
  ])('stops on %p naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (e) {
      expect((e as ConfigError).variable).toBe(variable);
      expect((e as ConfigError).message).toContain(variable);
    }
  });
});
