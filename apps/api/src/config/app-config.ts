import { isAbsolute, resolve } from 'node:path';
import { Decimal } from '@ccx/core';
import { defaultBusinessRules, type BusinessRules } from './business-rules.js';

export type NodeEnv = 'development' | 'production' | 'test';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Validated configuration. Built once from the environment by `loadConfig`; nothing else reads process.env. */
export interface AppConfig {
  nodeEnv: NodeEnv;
  /** pino level of the JSON logs (request logs: 5xx at error, 4xx at warn, the rest at info). */
  logLevel: LogLevel;
  port: number;
  /** External PostgreSQL; when null an embedded server is started in `dataDir`. */
  databaseUrl: string | null;
  dataDir: string;
  /** Port of the embedded PostgreSQL (never 5432, which belongs to a system server). */
  embeddedPgPort: number;
  operatorKey: string | null;
  testClock: boolean;
  clockStart: Date | null;
  /**
   * How often (ms) the outbox workers run: webhook deliveries and auto-refill jobs. 0 disables
   * the timers (tests call WebhookDispatcher.dispatchDue / AutoRefillWorker.runDue themselves).
   */
  webhookIntervalMs: number;
  /**
   * Outbound URLs (webhooks, provider base URLs) may reach loopback, private, link-local and
   * metadata addresses. Off by default (SSRF); tests, the demo and local development turn it on.
   */
  allowPrivateUrls: boolean;
  /** Write schema.gql on start (development and test; production keeps it in memory). */
  writeSchemaFile: boolean;
  /** GraphQL request limits, enforced as validation rules (graphql/limits). */
  graphqlLimits: { maxDepth: number; maxAliases: number; maxComplexity: number };
  /** Introspection and GraphiQL: on outside production unless CCX_GRAPHQL_INTROSPECTION says otherwise. */
  graphqlIntrospection: boolean;
  /** The built console served at `/` (CCX_CONSOLE_DIR); null: `dist/web` of the checkout. */
  consoleDir: string | null;
  /**
   * Requests per minute and burst, per organization (authenticated) and per client address
   * (anonymous), on /graphql and /v1/*. perMinute 0 turns that limit off. Shared by every process
   * through Redis at `redisUrl` (REDIS_URL); per process without it.
   */
  rateLimit: { perKey: RateLimit; perIp: RateLimit; redisUrl: string | null };
  rules: BusinessRules;
  gateway: GatewayConfig;
}

/** The inference gateway (SPEC §12). */
export interface GatewayConfig {
  /**
   * AES-256-GCM key for providers' upstream API keys (32 bytes). Required in production; in
   * development and test a key file is created in the data folder when it is not set.
   */
  secretKey: Buffer | null;
  /** No response headers from a provider within this: try the next one. */
  firstByteTimeoutMs: number;
  /** No body bytes for this long once a provider answered: the attempt failed. */
  stallTimeoutMs: number;
  /** How long an opened circuit stays open before one probe decides. */
  breakerOpenMs: number;
  /** The breaker opens after this many failures in a row (SPEC §12: 5)... */
  breakerConsecutiveFailures: number;
  /** ...or when more than half of at least this many attempts in the last minute failed (10). */
  breakerMinRequests: number;
  /** Provider attempts per request at most (SPEC §12: 3). */
  maxAttempts: number;
  /** Largest request body the gateway accepts, in bytes (larger: 413). */
  maxBodyBytes: number;
  /**
   * How long a process reuses what it read about rate cards, endpoints and listings for routing
   * (circuit states are read fresh for every request). 0: read everything every time.
   */
  routingCacheMs: number;
}

export interface RateLimit {
  perMinute: number;
  burst: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function fraction(env: Env, name: string, fallback: Decimal, max: string): Decimal {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^(0|[1-9][0-9]*)(\.[0-9]{1,6})?$/.test(raw) || new Decimal(raw).gt(max)) {
    throw new ConfigError(name, `must be a decimal from 0 to ${max} such as 0.20 (got "${raw}")`);
  }
  return new Decimal(raw);
}

function boolean(env: Env, name: string, fallback = false): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false (got "${raw}")`);
}

/**
 * `<name>` requests per minute (0: off) and `<name>_BURST`, the bucket size; the burst defaults to
 * the smaller of the rate and `burst`, so a small rate (tests) is not exceeded by its own burst.
 */
/** REDIS_URL: redis://[user:pass@]host:port[/db] or rediss:// (TLS); unset or empty: none. */
function redisUrlOf(env: Env): string | null {
  const raw = env.REDIS_URL || null;
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'must be a URL such as redis://127.0.0.1:6379');
  }
  if (!['redis:', 'rediss:'].includes(parsed.protocol)) throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
  return raw;
}

function rateLimitOf(env: Env, name: string, perMinute: number, burst: number): RateLimit {
  const rate = integer(env, name, perMinute, 0, 10_000_000);
  return { perMinute: rate, burst: integer(env, `${name}_BURST`, Math.max(1, Math.min(rate, burst)), 1, 10_000_000) };
}

/** Reads and validates the configuration; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: Env, cwd = process.cwd()): AppConfig {
  const nodeEnv = (env.NODE_ENV || 'development') as NodeEnv;
  if (!['development', 'production', 'test'].includes(nodeEnv)) {
    throw new ConfigError('NODE_ENV', `must be development, production or test (got "${env.NODE_ENV}")`);
  }
  // Tests send bad input on purpose, thousands of times: only server errors are worth a line there.
  const logLevel = (env.LOG_LEVEL || (nodeEnv === 'test' ? 'error' : 'info')) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const embeddedPgPort = integer(env, 'CCX_PG_PORT', 54329, 1024, 65535);
  if (embeddedPgPort === 5432) throw new ConfigError('CCX_PG_PORT', 'must not be 5432, the system PostgreSQL port');

  let databaseUrl: string | null = env.DATABASE_URL || null;
  if (databaseUrl) {
    let parsed: URL;
    try {
      parsed = new URL(databaseUrl);
    } catch {
      throw new ConfigError('DATABASE_URL', 'must be a URL such as postgres://user:pass@host:5432/db');
    }
    if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) {
      throw new ConfigError('DATABASE_URL', 'must start with postgres:// or postgresql://');
    }
  }

  const dataDirRaw = env.CCX_DATA_DIR || './.data/pg';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);

  const operatorKey = env.CCX_OPERATOR_KEY || null;
  if (operatorKey !== null && (operatorKey.length < 24 || operatorKey.length > 200 || /\s/.test(operatorKey))) {
    throw new ConfigError('CCX_OPERATOR_KEY', 'must be 24 to 200 characters without spaces');
  }

  const testClock = boolean(env, 'CCX_TEST_CLOCK');
  if (testClock && nodeEnv === 'production') {
    throw new ConfigError('CCX_TEST_CLOCK', 'must not be enabled when NODE_ENV=production');
  }
  let clockStart: Date | null = null;
  if (env.CCX_CLOCK_START) {
    const parsed = new Date(env.CCX_CLOCK_START);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(env.CCX_CLOCK_START) || Number.isNaN(parsed.getTime())) {
      throw new ConfigError('CCX_CLOCK_START', `must be an ISO-8601 instant such as 2026-01-05T12:00:00Z (got "${env.CCX_CLOCK_START}")`);
    }
    clockStart = parsed;
  }

  const rules = defaultBusinessRules();
  rules.pricing.margin = fraction(env, 'CCX_MARGIN', rules.pricing.margin, '10');
  rules.financing.feeRate = fraction(env, 'CCX_FINANCING_FEE_RATE', rules.financing.feeRate, '1');
  rules.servicingIntervalMs = integer(env, 'CCX_SERVICING_INTERVAL_MS', rules.servicingIntervalMs, 0, 86_400_000);
  const webhookIntervalMs = integer(env, 'CCX_WEBHOOK_INTERVAL_MS', 1000, 0, 86_400_000);
  const allowPrivateUrls = boolean(env, 'CCX_ALLOW_PRIVATE_URLS');

  const graphqlLimits = {
    maxDepth: integer(env, 'CCX_GRAPHQL_MAX_DEPTH', 10, 1, 100),
    maxAliases: integer(env, 'CCX_GRAPHQL_MAX_ALIASES', 30, 0, 10_000),
    maxComplexity: integer(env, 'CCX_GRAPHQL_MAX_COMPLEXITY', 1000, 1, 10_000_000),
  };
  // The schema is public knowledge to a developer, not to a production prober: on only where asked.
  const graphqlIntrospection = boolean(env, 'CCX_GRAPHQL_INTROSPECTION', nodeEnv !== 'production');
  const consoleDir = env.CCX_CONSOLE_DIR ? resolve(cwd, env.CCX_CONSOLE_DIR) : null;
  const rateLimit = {
    perKey: rateLimitOf(env, 'CCX_RATE_LIMIT_PER_KEY', 6000, 1000),
    perIp: rateLimitOf(env, 'CCX_RATE_LIMIT_PER_IP', 1200, 300),
    redisUrl: redisUrlOf(env),
  };

  const gatewayKeyRaw = env.CCX_GATEWAY_SECRET_KEY || null;
  let secretKey: Buffer | null = null;
  if (gatewayKeyRaw !== null) {
    secretKey = /^[0-9a-fA-F]{64}$/.test(gatewayKeyRaw) ? Buffer.from(gatewayKeyRaw, 'hex') : null;
    if (!secretKey) throw new ConfigError('CCX_GATEWAY_SECRET_KEY', 'must be 64 hexadecimal characters (32 bytes), e.g. from `openssl rand -hex 32`');
  } else if (nodeEnv === 'production') {
    throw new ConfigError('CCX_GATEWAY_SECRET_KEY', 'must be set in production (it encrypts providers\' upstream API keys)');
  }
  const gateway: GatewayConfig = {
    secretKey,
    firstByteTimeoutMs: integer(env, 'CCX_GATEWAY_FIRST_BYTE_TIMEOUT_MS', 30_000, 1, 600_000),
    stallTimeoutMs: integer(env, 'CCX_GATEWAY_STALL_TIMEOUT_MS', 60_000, 1, 3_600_000),
    breakerOpenMs: integer(env, 'CCX_GATEWAY_BREAKER_OPEN_MS', 30_000, 1, 3_600_000),
    breakerConsecutiveFailures: integer(env, 'CCX_GATEWAY_BREAKER_FAILURES', 5, 1, 1000),
    breakerMinRequests: integer(env, 'CCX_GATEWAY_BREAKER_MIN_REQUESTS', 10, 1, 1_000_000),
    maxAttempts: integer(env, 'CCX_GATEWAY_MAX_ATTEMPTS', 3, 1, 10),
    maxBodyBytes: integer(env, 'CCX_GATEWAY_MAX_BODY_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    routingCacheMs: integer(env, 'CCX_GATEWAY_ROUTING_CACHE_MS', 1000, 0, 60_000),
  };

  return {
    gateway,
    rules,
    nodeEnv,
    logLevel,
    port,
    databaseUrl,
    dataDir,
    embeddedPgPort,
    operatorKey,
    testClock,
    clockStart,
    webhookIntervalMs,
    allowPrivateUrls,
    writeSchemaFile: nodeEnv !== 'production',
    graphqlLimits,
    graphqlIntrospection,
    consoleDir,
    rateLimit,
  };
}
