import { createServer } from 'node:net';
import { buildConnector } from 'undici';
import { startFakeProvider, type FakeProvider } from '../../../../../scripts/lib/fake-provider.js';
import { SseParser } from './sse-parser.js';
import { UpstreamBodyError, UpstreamClient, UpstreamStallError, targetUrl, type UpstreamCall, type UpstreamResult } from './upstream-client.js';

type Response = Extract<UpstreamResult, { kind: 'response' }>;

const CHAT = { model: 'llama', messages: [{ role: 'user', content: 'say hello' }] };

function chat(body: object = CHAT, over: Partial<UpstreamCall> = {}): UpstreamCall {
  return { path: '/chat/completions', body: JSON.stringify(body), firstByteTimeoutMs: 5_000, stallTimeoutMs: 5_000, ...over };
}

function asResponse(result: UpstreamResult): Response {
  if (result.kind !== 'response') throw new Error(`expected a response, got ${result.reason}: ${result.message}`);
  return result;
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port nobody listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('UpstreamClient against the fake provider', () => {
  let fake: FakeProvider;
  let client: UpstreamClient;
  const target = () => ({ endpointId: 'ep-1', baseUrl: fake.url, apiKey: 'sk-upstream-secret' });

  beforeAll(async () => {
    fake = await startFakeProvider();
    client = new UpstreamClient({});
  });
  afterAll(async () => {
    await client.close();
    await fake.close();
  });
  beforeEach(() => fake.setBehavior({ kind: 'ok' }));

  it('returns a JSON answer, sending the key, the content type and unknown fields untouched', async () => {
    fake.setBehavior({ kind: 'ok', content: 'Hi there', usage: { prompt_tokens: 3, completion_tokens: 2 } });
    const res = asResponse(await client.call(target(), chat({ ...CHAT, top_k: 7, provider_specific: { a: 1 } })));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.ttfbMs).toBeGreaterThanOrEqual(0);
    const answer = JSON.parse(await text(res.body));
    expect(answer).toMatchObject({ object: 'chat.completion', model: 'llama', choices: [{ message: { role: 'assistant', content: 'Hi there' } }] });
    expect(answer.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    const seen = fake.requests.at(-1)!;
    expect(seen.path).toBe('/v1/chat/completions');
    expect(seen.headers.authorization).toBe('Bearer sk-upstream-secret');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.body).toMatchObject({ top_k: 7, provider_specific: { a: 1 } });
  });

  it('sends no Authorization header without a key, even one slipped into extraHeaders', async () => {
    const res = asResponse(
      await client.call({ ...target(), apiKey: null }, chat(CHAT, { extraHeaders: { Authorization: 'Bearer buyer-key', 'Content-Type': 'text/plain', 'x-trace': 't1' } })),
    );
    await text(res.body);
    const seen = fake.requests.at(-1)!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.headers['x-trace']).toBe('t1');
  });

  it.each([
    ['a base URL ending in /v1/', (url: string) => `${url}/`],
    ['a base URL ending in /v1', (url: string) => url],
  ])('joins the path onto %s', async (_name, base) => {
    const res = asResponse(await client.call({ ...target(), baseUrl: base(fake.url) }, { ...chat({ model: 'e', input: 'a b' }), path: '/embeddings' }));
    expect(JSON.parse(await text(res.body))).toMatchObject({ object: 'list', data: [{ object: 'embedding', index: 0 }], usage: { prompt_tokens: 2 } });
    expect(fake.requests.at(-1)!.path).toBe('/v1/embeddings');
  });

  it('streams SSE chunk by chunk as the provider writes them, without buffering', async () => {
    fake.setBehavior({ kind: 'stream', chunks: ['one ', 'two ', 'three'], chunkDelayMs: 150 });
    const res = asResponse(await client.call(target(), chat({ ...CHAT, stream: true })));
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    // The provider still has two chunks and [DONE] to write 150 ms apart: what arrived is only the first.
    const firstText = first.value!.toString('utf8');
    expect(firstText).toContain('"content":"one "');
    expect(firstText).not.toContain('two');
    expect(firstText).not.toContain('[DONE]');
    const parser = new SseParser();
    const events = parser.push(first.value!);
    let buffers = 1;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      buffers += 1;
      events.push(...parser.push(next.value));
    }
    events.push(...parser.end());
    expect(buffers).toBeGreaterThanOrEqual(3);
    expect(events.at(-1)).toEqual({ data: '[DONE]' });
    const content = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '').join('');
    expect(content).toBe('one two three');
  });

  it('returns a 429 with its Retry-After as a response, not a failure', async () => {
    fake.setBehavior({ kind: 'status', status: 429, retryAfter: '3' });
    const res = asResponse(await client.call(target(), chat()));
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('3');
    expect(JSON.parse(await text(res.body)).error).toMatchObject({ type: 'invalid_request_error' });
  });

  it('maps a refused connection to connect', async () => {
    const result = await client.call({ ...target(), baseUrl: `http://127.0.0.1:${await closedPort()}/v1` }, chat());
    expect(result).toMatchObject({ kind: 'failure', reason: 'connect' });
  });

  it('maps no response headers within firstByteTimeoutMs to first_byte_timeout, and hangs up', async () => {
    fake.setBehavior({ kind: 'hang' });
    const aborted = fake.aborted;
    const started = Date.now();
    const result = await client.call(target(), chat(CHAT, { firstByteTimeoutMs: 300 }));
    expect(result).toMatchObject({ kind: 'failure', reason: 'first_byte_timeout' });
    // Not before the timeout, and not waiting for some other, longer one.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3_000);
    await waitFor(() => fake.aborted === aborted + 1, 'the provider to see the connection close');
  });

  it('maps an abort before the headers to aborted', async () => {
    fake.setBehavior({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await client.call(target(), chat(CHAT, { signal: controller.signal }))).toMatchObject({ kind: 'failure', reason: 'aborted' });
    expect(await client.call(target(), chat(CHAT, { signal: controller.signal }))).toMatchObject({ kind: 'failure', reason: 'aborted' });
  });

  it('throws UpstreamBodyError when the stream is cut in the middle', async () => {
    fake.setBehavior({ kind: 'stream', chunks: ['abc ', 'def ', 'ghi'], cutAfter: 2 });
    const res = asResponse(await client.call(target(), chat({ ...CHAT, stream: true })));
    const received: Buffer[] = [];
    const error = await (async () => {
      for await (const chunk of res.body) received.push(chunk);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamBodyError);
    expect(error).not.toBeInstanceOf(UpstreamStallError);
    expect((error as UpstreamBodyError).reason).toBe('cut');
    // What came before the cut was delivered.
    expect(Buffer.concat(received).toString()).toContain('def ');
  });

  it('throws UpstreamStallError when the provider trickles slower than stallTimeoutMs', async () => {
    fake.setBehavior({ kind: 'trickle', chunks: ['a ', 'b ', 'c'], chunkDelayMs: 1_000 });
    const res = asResponse(await client.call(target(), chat({ ...CHAT, stream: true }, { stallTimeoutMs: 200 })));
    const error = await text(res.body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamStallError);
    expect((error as UpstreamStallError).reason).toBe('stall');
  });

  it('lets a trickle faster than stallTimeoutMs finish', async () => {
    fake.setBehavior({ kind: 'trickle', chunks: ['a ', 'b ', 'c ', 'd'], chunkDelayMs: 60 });
    const res = asResponse(await client.call(target(), chat({ ...CHAT, stream: true }, { stallTimeoutMs: 600 })));
    expect(await text(res.body)).toContain('data: [DONE]');
  });

  it('aborts mid-stream: the body throws and the provider sees the connection close', async () => {
    fake.setBehavior({ kind: 'trickle', chunks: ['a ', 'b ', 'c ', 'd'], chunkDelayMs: 300 });
    const aborted = fake.aborted;
    const controller = new AbortController();
    const res = asResponse(await client.call(target(), chat({ ...CHAT, stream: true }, { signal: controller.signal })));
    const iterator = res.body[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    controller.abort();
    const error = await iterator.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamBodyError);
    expect((error as UpstreamBodyError).reason).toBe('aborted');
    await waitFor(() => fake.aborted === aborted + 1, 'the provider to see the connection close');
  });

  it('cancel() drops the body: the iterator ends and the provider sees the close', async () => {
    fake.setBehavior({ kind: 'trickle', chunks: ['a ', 'b ', 'c ', 'd'], chunkDelayMs: 300 });
    const aborted = fake.aborted;
    const res = asResponse(await client.call(target(), chat({ ...CHAT, stream: true })));
    res.cancel();
    expect(await res.body[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });
    await waitFor(() => fake.aborted === aborted + 1, 'the provider to see the connection close');
  });

  it('maps a connector refusing the address to blocked_address', async () => {
    const direct = buildConnector({});
    const blocked = new UpstreamClient({
      connect: ((opts, callback) => {
        if (opts.hostname === '127.0.0.1') {
          const error = Object.assign(new Error('address 127.0.0.1 is private'), { code: 'ERR_CCX_BLOCKED_ADDRESS' });
          callback(error, null);
          return;
        }
        direct(opts, callback);
      }) as buildConnector.connector,
    });
    try {
      const calls = fake.requests.length;
      expect(await blocked.call(target(), chat())).toMatchObject({ kind: 'failure', reason: 'blocked_address' });
      expect(fake.requests.length).toBe(calls);
    } finally {
      await blocked.close();
    }
  });

  it.each([
    ['not a URL', 'nope'],
    ['not http', 'ftp://127.0.0.1/v1'],
    ['credentials in the URL', 'http://user:secret@127.0.0.1/v1'],
  ])('refuses a base URL that is %s as protocol, without echoing it', async (_name, baseUrl) => {
    const result = await client.call({ ...target(), baseUrl }, chat());
    expect(result).toMatchObject({ kind: 'failure', reason: 'protocol' });
    expect(JSON.stringify(result)).not.toContain('secret');
  });
});

describe('UpstreamClient pools', () => {
  let fake: FakeProvider;
  beforeEach(async () => {
    fake = await startFakeProvider();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('reuses keep-alive connections for sequential calls to an endpoint', async () => {
    const client = new UpstreamClient({});
    try {
      for (let i = 0; i < 10; i++) {
        fake.setBehavior(i % 2 ? { kind: 'status', status: 500 } : { kind: 'ok' });
        const res = asResponse(await client.call({ endpointId: 'ep', baseUrl: fake.url, apiKey: null }, chat()));
        await text(res.body);
      }
      expect(fake.requests.length).toBe(10);
      // Not always 1: undici marks a connection free on a tick after its body ended, so a call
      // made at once may open a second one; from then on one of the two is always idle.
      expect(fake.connections).toBeLessThanOrEqual(2);
      expect(client.poolCount).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('keeps at most maxPools pools, closing the least recently used', async () => {
    const client = new UpstreamClient({ maxPools: 2 });
    try {
      for (const endpointId of ['a', 'b', 'a', 'c']) {
        await text(asResponse(await client.call({ endpointId, baseUrl: fake.url, apiKey: null }, chat())).body);
      }
      expect(client.poolCount).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('closes pools left unused for poolIdleMs', async () => {
    const client = new UpstreamClient({ poolIdleMs: 100 });
    try {
      await text(asResponse(await client.call({ endpointId: 'idle', baseUrl: fake.url, apiKey: null }, chat())).body);
      expect(client.poolCount).toBe(1);
      await waitFor(() => client.poolCount === 0, 'the idle pool to be closed');
    } finally {
      await client.close();
    }
  });

  it('answers failure after close() instead of opening new pools', async () => {
    const client = new UpstreamClient({});
    await client.close();
    expect(await client.call({ endpointId: 'x', baseUrl: fake.url, apiKey: null }, chat())).toMatchObject({ kind: 'failure', reason: 'connect' });
    expect(fake.connections).toBe(0);
  });
});

describe('targetUrl', () => {
  it.each([
    ['http://h/v1', '/chat/completions', 'http://h/v1/chat/completions'],
    ['http://h/v1/', '/chat/completions', 'http://h/v1/chat/completions'],
    ['http://h/v1//', '/embeddings', 'http://h/v1/embeddings'],
    ['https://h:8443/openai/v1?api-version=2', '/chat/completions', 'https://h:8443/openai/v1/chat/completions?api-version=2'],
    ['http://h', '/chat/completions', 'http://h/chat/completions'],
  ])('%s + %s', (base, path, expected) => {
    expect(targetUrl(base, path).href).toBe(expected);
  });
});
