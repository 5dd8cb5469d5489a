import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Pool, request } from 'undici';
import { safeConnector } from './safe-connector.js';
import { SsrfBlockedError } from './ssrf-blocked-error.js';

/**
 * The connect-time check against a real server on 127.0.0.1: refused connections must not reach
 * it at all (no request, not even a TCP accept), allowed ones must.
 */
let server: Server;
let port: number;
let requests = 0;
let connections = 0;
const dispatchers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    res.end('internal admin');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
beforeEach(() => {
  requests = 0;
  connections = 0;
});
afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A name that looked public when it was saved and now answers 127.0.0.1 (DNS rebinding). */
const rebinding = async () => [{ address: '127.0.0.1', family: 4 }];

function agent(allowPrivate: boolean): Agent {
  const a = new Agent({ connect: safeConnector({ allowPrivate, resolver: rebinding, timeout: 2_000 }) });
  dispatchers.push(a);
  return a;
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the request went through');
}

describe('safeConnector', () => {
  it.each([
    ['an IP literal', () => `http://127.0.0.1:${port}/internal-admin`, 'refused: 127.0.0.1 is a loopback address'],
    ['a host name resolving to 127.0.0.1', () => `http://hooks.rebind.example:${port}/internal-admin`, 'refused: hooks.rebind.example resolves to a loopback address (127.0.0.1)'],
    ['an IPv4-mapped IPv6 literal', () => `http://[::ffff:127.0.0.1]:${port}/`, 'refused: ::ffff:7f00:1 is a loopback address'],
  ])('allowPrivate=false refuses %s and the server receives nothing', async (_label, url, message) => {
    const error = await failure(request(url(), { dispatcher: agent(false), method: 'POST', body: '{}' }));
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect(error.code).toBe('ERR_CCX_BLOCKED_ADDRESS');
    expect(error.message).toBe(message);
    expect(requests).toBe(0);
    expect(connections).toBe(0);
  });

  it('refuses through a Pool too', async () => {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connect: safeConnector({ allowPrivate: false }) });
    dispatchers.push(pool);
    const error = await failure(pool.request({ path: '/', method: 'GET' }));
    expect(error.code).toBe('ERR_CCX_BLOCKED_ADDRESS');
    expect(requests).toBe(0);
  });

  it.each([
    ['an IP literal', () => `http://127.0.0.1:${port}/internal-admin`],
    ['a host name resolving to 127.0.0.1', () => `http://hooks.rebind.example:${port}/internal-admin`],
  ])('allowPrivate=true reaches the server through %s', async (_label, url) => {
    const res = await request(url(), { dispatcher: agent(true) });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('internal admin');
    expect(requests).toBe(1);
  });

  it('still fails like a connector on a closed port', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(request(`http://127.0.0.1:${closedPort}/`, { dispatcher: agent(true) }));
    expect(error.code).toBe('ECONNREFUSED');
  });
});
