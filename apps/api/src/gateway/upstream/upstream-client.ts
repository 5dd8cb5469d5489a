import type { Readable } from 'node:stream';
import { Pool } from 'undici';

/** Where one provider endpoint lives. The key is only ever put in the Authorization header. */
export interface UpstreamTarget {
  endpointId: string;
  /** The seller's OpenAI-compatible base URL, e.g. `https://host/v1` (a trailing slash is fine). */
  baseUrl: string;
  apiKey: string | null;
}

/** One request to forward. */
export interface UpstreamCall {
  /** Appended to the base URL's path. */
  path: '/chat/completions' | '/embeddings';
  /** The JSON body, sent as it is. */
  body: string;
  /** Aborts the call at any point: before the headers (failure `aborted`) or mid-body. */
  signal?: AbortSignal;
  /** No response headers this long after the call started: failure `first_byte_timeout`. */
  firstByteTimeoutMs: number;
  /**
   * No body bytes this long once the headers came: the body throws `UpstreamStallError`. Measured
   * by undici only while the consumer is reading (a slow client is not a stalled provider), on its
   * coarse timer: it may fire up to about a second late.
   */
  stallTimeoutMs: number;
  /** Added to the request; they cannot replace `content-type` or `authorization`. */
  extraHeaders?: Record<string, string>;
}

/** Why a call produced no response at all. */
export type UpstreamFailureReason = 'connect' | 'first_byte_timeout' | 'blocked_address' | 'aborted' | 'protocol';

/**
 * A response (any status: a 4xx or 5xx is the gateway's to judge) or a failure before one.
 * `body` yields Buffers as they arrive and throws `UpstreamBodyError` (or its subclass
 * `UpstreamStallError`) when the body fails; `cancel()` drops the rest of it.
 */
export type UpstreamResult =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: AsyncIterable<Buffer>; cancel(): void; ttfbMs: number }
  | { kind: 'failure'; reason: UpstreamFailureReason; message: string };

/** Why a response body stopped before its end. */
export type UpstreamBodyFailure = 'cut' | 'stall' | 'aborted';

/** The response body ended before its end: the connection was cut, it stalled, or the call was aborted. */
export class UpstreamBodyError extends Error {
  constructor(
    message: string,
    readonly reason: UpstreamBodyFailure = 'cut',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamBodyError';
  }
}

/** No body bytes for `stallTimeoutMs`. A subclass so one `instanceof UpstreamBodyError` catches every body failure. */
export class UpstreamStallError extends UpstreamBodyError {
  constructor(stallTimeoutMs: number, options?: { cause?: unknown }) {
    super(`the provider sent nothing for ${stallTimeoutMs} ms`, 'stall', options);
    this.name = 'UpstreamStallError';
  }
}

/** Options of {@link UpstreamClient}. */
export interface UpstreamClientOptions {
  /**
   * An undici connector (e.g. from `buildConnector`, or one that refuses private addresses with
   * an error whose code is `ERR_CCX_BLOCKED_ADDRESS`), passed to every pool.
   */
  connect?: unknown;
  /** Keep-alive connections per endpoint and origin; default 64. */
  connections?: number;
  /** How long an idle keep-alive connection is kept; default 10 s. */
  keepAliveTimeoutMs?: number;
  /** At most this many pools are kept (least recently used closed first); default 1,000. */
  maxPools?: number;
  /** A pool unused for this long is closed; default 5 minutes. */
  poolIdleMs?: number;
}

interface PoolEntry {
  pool: Pool;
  lastUsed: number;
  inFlight: number;
}

const DEFAULT_CONNECTIONS = 64;
const DEFAULT_KEEP_ALIVE_MS = 10_000;
const DEFAULT_MAX_POOLS = 1_000;
const DEFAULT_POOL_IDLE_MS = 5 * 60_000;
/** How long `close()` lets running calls finish before it cuts them. */
const CLOSE_GRACE_MS = 2_000;

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'UND_ERR_CONNECT_TIMEOUT',
  // The socket closed before the headers: for a POST undici does not retry, and to the gateway
  // it is the same as a refused connection.
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/**
 * Calls OpenAI-compatible providers over keep-alive connection pools, one undici `Pool` per
 * (endpoint, origin): created on first use, reused, closed when idle or when the least recently
 * used of more than `maxPools`, so memory stays bounded however many endpoints sellers register.
 * Pipelining is 1: a provider answering one request slowly must not hold up another behind it.
 */
export class UpstreamClient {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly connect: unknown;
  private readonly connections: number;
  private readonly keepAliveTimeoutMs: number;
  private readonly maxPools: number;
  private readonly poolIdleMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(opts: UpstreamClientOptions = {}) {
    this.connect = opts.connect;
    this.connections = opts.connections ?? DEFAULT_CONNECTIONS;
    this.keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.maxPools = Math.max(1, opts.maxPools ?? DEFAULT_MAX_POOLS);
    this.poolIdleMs = opts.poolIdleMs ?? DEFAULT_POOL_IDLE_MS;
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.max(50, Math.min(this.poolIdleMs, 60_000)));
    // An idle sweep must never be what keeps a process (or jest) alive.
    this.sweeper.unref();
  }

  /** How many pools are open (for tests and metrics). */
  get poolCount(): number {
    return this.pools.size;
  }

  /**
   * Sends `call` to `target`. Never throws: anything that prevents a response is a `failure`
   * whose message carries no credentials. A `response`'s body must be read to its end or
   * cancelled: until then it holds one of the pool's connections.
   */
  async call(target: UpstreamTarget, call: UpstreamCall): Promise<UpstreamResult> {
    if (this.closed) return { kind: 'failure', reason: 'connect', message: 'the upstream client is closed' };
    if (call.signal?.aborted) return { kind: 'failure', reason: 'aborted', message: 'aborted before the call' };
    let url: URL;
    try {
      url = targetUrl(target.baseUrl, call.path);
    } catch (error) {
      return { kind: 'failure', reason: 'protocol', message: (error as Error).message };
    }

    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    // Our own timer, started now, so the first-byte budget also covers waiting for a pooled
    // connection and connecting (undici's headersTimeout starts only once the request is written).
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, call.firstByteTimeoutMs);
    const onCallerAbort = () => controller.abort();
    call.signal?.addEventListener('abort', onCallerAbort, { once: true });

    const entry = this.pool(`${target.endpointId}\n${url.origin}`, url.origin);
    entry.inFlight += 1;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      entry.inFlight -= 1;
      entry.lastUsed = Date.now();
      call.signal?.removeEventListener('abort', onCallerAbort);
    };

    const headers: Record<string, string> = {
      // The gateway sends the same body for JSON and streamed answers; both kinds are acceptable.
      accept: 'application/json, text/event-stream',
      ...forwardableHeaders(call.extraHeaders),
      'content-type': 'application/json',
    };
    // Only the seller's key goes upstream: never a caller-supplied one (it could be the buyer's CCX key).
    if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
    else delete headers.authorization;

    try {
      const response = await entry.pool.request({
        path: url.pathname + url.search,
        method: 'POST',
        headers,
        body: call.body,
        signal: controller.signal,
        headersTimeout: call.firstByteTimeoutMs,
        bodyTimeout: call.stallTimeoutMs,
      });
      clearTimeout(timer);
      const ttfbMs = Math.round(performance.now() - started);
      const body = response.body as unknown as Readable;
      // A body destroyed before it was read (cancel, a failover) emits an abort error: the reader,
      // if any, gets it through its own listener; without one it must not crash the process.
      body.on('error', () => undefined);
      if (timedOut || controller.signal.aborted) {
        // Aborted in the same tick the headers came: do not hand out a body that is being destroyed.
        body.destroy();
        finish();
        return timedOut
          ? { kind: 'failure', reason: 'first_byte_timeout', message: `no response headers within ${call.firstByteTimeoutMs} ms` }
          : { kind: 'failure', reason: 'aborted', message: 'the call was aborted' };
      }
      body.once('close', finish);
      let cancelled = false;
      const cancel = () => {
        cancelled = true;
        body.destroy();
      };
      return {
        kind: 'response',
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body: bodyIterable(body, () => cancelled, () => call.signal?.aborted === true, call.stallTimeoutMs, cancel),
        cancel,
        ttfbMs,
      };
    } catch (error) {
      clearTimeout(timer);
      finish();
      return toFailure(error, { timedOut, aborted: call.signal?.aborted === true, firstByteTimeoutMs: call.firstByteTimeoutMs });
    }
  }

  /** Closes every pool: running calls get a short grace period, then are cut. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const pools = [...this.pools.values()].map((e) => e.pool);
    this.pools.clear();
    await Promise.all(pools.map((pool) => closePool(pool, CLOSE_GRACE_MS)));
  }

  private pool(key: string, origin: string): PoolEntry {
    let entry = this.pools.get(key);
    if (entry) {
      // Re-inserting keeps the Map in least-recently-used order for eviction.
      this.pools.delete(key);
    } else {
      entry = {
        pool: new Pool(origin, {
          connections: this.connections,
          pipelining: 1,
          keepAliveTimeout: this.keepAliveTimeoutMs,
          keepAliveMaxTimeout: this.keepAliveTimeoutMs,
          ...(this.connect ? { connect: this.connect as Pool.Options['connect'] } : {}),
        }),
        lastUsed: Date.now(),
        inFlight: 0,
      };
      while (this.pools.size >= this.maxPools) this.evict(this.pools.keys().next().value as string);
    }
    entry.lastUsed = Date.now();
    this.pools.set(key, entry);
    return entry;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.pools) {
      if (entry.inFlight === 0 && now - entry.lastUsed >= this.poolIdleMs) this.evict(key);
    }
  }

  private evict(key: string): void {
    const entry = this.pools.get(key);
    if (!entry) return;
    this.pools.delete(key);
    // A graceful close lets calls still running on an evicted pool finish; new calls get a new pool.
    entry.pool.close().catch(() => {});
  }
}

/** `baseUrl` + `path`, keeping the base's own path (`/v1`, with or without a trailing slash) and query. */
export function targetUrl(baseUrl: string, path: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error('the endpoint base URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('the endpoint base URL must be http or https');
  // undici would send credentials in the URL nowhere; refusing them keeps them out of messages too.
  if (url.username || url.password) throw new Error('the endpoint base URL must not carry credentials');
  url.pathname = url.pathname.replace(/\/+$/, '') + path;
  url.hash = '';
  return url;
}

function bodyIterable(
  body: Readable,
  cancelled: () => boolean,
  aborted: () => boolean,
  stallTimeoutMs: number,
  cancel: () => void,
): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Buffer> {
      const inner = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      return {
        async next(): Promise<IteratorResult<Buffer>> {
          if (cancelled()) return { done: true, value: undefined };
          try {
            return await inner.next();
          } catch (error) {
            if (cancelled()) return { done: true, value: undefined };
            throw toBodyError(error, aborted(), stallTimeoutMs);
          }
        },
        // A consumer that stops early (break, a throw in for-await) frees the connection.
        async return(): Promise<IteratorResult<Buffer>> {
          cancel();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

function toBodyError(error: unknown, aborted: boolean, stallTimeoutMs: number): UpstreamBodyError {
  if (error instanceof UpstreamBodyError) return error;
  if (errorCode(error) === 'UND_ERR_BODY_TIMEOUT') return new UpstreamStallError(stallTimeoutMs, { cause: error });
  if (aborted) return new UpstreamBodyError('the call was aborted', 'aborted', { cause: error });
  return new UpstreamBodyError(`the provider's answer was cut: ${safeMessage(error)}`, 'cut', { cause: error });
}

function toFailure(
  error: unknown,
  state: { timedOut: boolean; aborted: boolean; firstByteTimeoutMs: number },
): Extract<UpstreamResult, { kind: 'failure' }> {
  const code = errorCode(error);
  if (code === 'ERR_CCX_BLOCKED_ADDRESS') return { kind: 'failure', reason: 'blocked_address', message: safeMessage(error) };
  if (state.timedOut || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return { kind: 'failure', reason: 'first_byte_timeout', message: `no response headers within ${state.firstByteTimeoutMs} ms` };
  }
  if (state.aborted) return { kind: 'failure', reason: 'aborted', message: 'the call was aborted' };
  if (code && CONNECT_CODES.has(code)) return { kind: 'failure', reason: 'connect', message: safeMessage(error) };
  return { kind: 'failure', reason: 'protocol', message: safeMessage(error) };
}

/** The code of an error or of the first error inside it (connectors may throw AggregateErrors). */
function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; errors?: unknown[]; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors) && e.errors.length) return errorCode(e.errors[0]);
  if (e.cause) return errorCode(e.cause);
  return undefined;
}

/** Error messages come from undici and the OS: addresses and codes, never request headers. */
function safeMessage(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error && error.message ? error.message : String(error);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Framing and hop-by-hop headers belong to this connection, not to the caller. */
const NOT_FORWARDED = new Set(['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer']);

function forwardableHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!NOT_FORWARDED.has(lower)) out[lower] = value;
  }
  return out;
}

async function closePool(pool: Pool, graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([pool.close().then(() => 'closed' as const), grace]);
    if (outcome === 'late') await pool.destroy();
  } catch {
    await pool.destroy().catch(() => {});
  } finally {
    clearTimeout(timer);
  }
}
