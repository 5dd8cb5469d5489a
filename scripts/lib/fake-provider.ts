/**
 * A vLLM-like OpenAI-compatible provider for tests, benches and the demo: `POST /v1/chat/completions`
 * (JSON and server-sent events), `POST /v1/embeddings` and `GET /v1/models`, with scripted
 * misbehaviour (error statuses, no headers, cut or trickling streams). Built on node:http alone and
 * bound to 127.0.0.1 only, so it is never reachable from outside the machine.
 *
 * When a behaviour gives no usage it is derived deterministically, so tests can predict charges:
 * prompt_tokens = whitespace-separated words of every message's text + 1 per message;
 * completion_tokens = words of the answer, capped at `max_tokens` (or `max_completion_tokens`),
 * times `n`.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Token counts a behaviour reports; `null` means the provider sends no usage at all. */
export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** How the provider answers the next POST. */
export type FakeBehavior =
  /** A normal answer: JSON, or SSE when the request asked for `stream: true`. */
  | { kind: 'ok'; content?: string; usage?: FakeUsage | null; delayMs?: number }
  /** Always SSE, one event per chunk; `cutAfter` destroys the socket after that many chunks. */
  | { kind: 'stream'; chunks?: string[]; usage?: FakeUsage | null; chunkDelayMs?: number; cutAfter?: number; delayMs?: number }
  /** An error status with OpenAI's error body (or `body`). */
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  /** Accepts the request and never sends headers. */
  | { kind: 'hang' }
  /** SSE, one chunk every `chunkDelayMs`. */
  | { kind: 'trickle'; chunks: string[]; chunkDelayMs: number };

/** What a behaviour function is told: the parsed body and the request's 1-based number. */
export interface FakeRequestInfo {
  body: any;
  n: number;
}

export type FakeBehaviorSource = FakeBehavior | ((req: FakeRequestInfo) => FakeBehavior);

/** A running fake provider. */
export interface FakeProvider {
  /** The base URL a seller registers, e.g. `http://127.0.0.1:43121/v1`. */
  url: string;
  port: number;
  /** Every request received, body parsed (unknown fields included, for passthrough checks). */
  requests: { path: string; headers: Record<string, string | string[] | undefined>; body: any }[];
  /** TCP connections accepted so far. */
  connections: number;
  /** Requests whose client went away before the answer ended. */
  aborted: number;
  /** Replaces the behaviour for the following requests; the default is `{ kind: 'ok' }`. */
  setBehavior(b: FakeBehaviorSource): void;
  /** Stops listening and destroys open sockets, so a hanging request cannot keep a process alive. */
  close(): Promise<void>;
}

/** Options of {@link startFakeProvider}. */
export interface FakeProviderOptions {
  behavior?: FakeBehaviorSource;
  /** Added before every answer (the benchmark uses 20 ms). */
  latencyMs?: number;
  /** Model ids listed by `GET /v1/models`; default `['fake-model']`. */
  models?: string[];
}

const DEFAULT_CONTENT = 'Hello from the fake provider.';
const EMBEDDING_DIMENSIONS = 8;

/** Starts a fake provider on 127.0.0.1 and an ephemeral port. */
export async function startFakeProvider(opts: FakeProviderOptions = {}): Promise<FakeProvider> {
  let behavior: FakeBehaviorSource = opts.behavior ?? { kind: 'ok' };
  const sockets = new Set<Socket>();
  const running = new Set<AbortController>();
  let counter = 0;

  const server = createServer((req, res) => {
    const stop = new AbortController();
    running.add(stop);
    let cutByUs = false;
    res.on('close', () => {
      running.delete(stop);
      stop.abort();
      if (!res.writableFinished && !cutByUs) fake.aborted += 1;
    });
    handle(req, res, stop.signal, () => (cutByUs = true)).catch((error) => {
      if (stop.signal.aborted) return;
      if (!res.headersSent) json(res, 500, errorBody(`fake provider failed: ${(error as Error).message}`, 'server_error'));
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    fake.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal, markCut: () => void): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const raw = await readBody(req);
    let body: any;
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      fake.requests.push({ path, headers: req.headers, body: raw.toString('utf8') });
      return json(res, 400, errorBody('the body is not valid JSON', 'invalid_request_error'));
    }
    fake.requests.push({ path, headers: req.headers, body });
    if (opts.latencyMs) await sleep(opts.latencyMs, undefined, { signal });

    if (req.method === 'GET' && path === '/v1/models') {
      const models = opts.models ?? ['fake-model'];
      return json(res, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) });
    }
    const chat = path === '/v1/chat/completions';
    if (req.method !== 'POST' || (!chat && path !== '/v1/embeddings')) {
      return json(res, 404, errorBody(`no route ${req.method} ${path}`, 'invalid_request_error'));
    }
    if (!body || typeof body !== 'object') return json(res, 400, errorBody('the body must be a JSON object', 'invalid_request_error'));

    counter += 1;
    const b = typeof behavior === 'function' ? behavior({ body, n: counter }) : behavior;
    if (b.kind === 'hang') return;
    if (b.kind === 'status') {
      const headers: Record<string, string> = b.retryAfter === undefined ? {} : { 'retry-after': b.retryAfter };
      return json(res, b.status, b.body ?? errorBody(`fake provider answered ${b.status}`, b.status >= 500 ? 'server_error' : 'invalid_request_error'), headers);
    }
    if ((b.kind === 'ok' || b.kind === 'stream') && b.delayMs) await sleep(b.delayMs, undefined, { signal });
    if (!chat) return json(res, 200, embeddings(body));

    if (b.kind === 'ok' && body.stream !== true) return json(res, 200, completion(body, b.content ?? DEFAULT_CONTENT, b.usage));
    const plan =
      b.kind === 'ok'
        ? { chunks: null, content: b.content ?? DEFAULT_CONTENT, usage: b.usage, delayMs: 0, cutAfter: undefined }
        : b.kind === 'stream'
          ? { chunks: b.chunks ?? null, content: DEFAULT_CONTENT, usage: b.usage, delayMs: b.chunkDelayMs ?? 0, cutAfter: b.cutAfter }
          : { chunks: b.chunks, content: '', usage: undefined, delayMs: b.chunkDelayMs, cutAfter: undefined };
    await stream(res, body, plan, signal, markCut);
  }

  const fake: FakeProvider = {
    url: '',
    port: 0,
    requests: [],
    connections: 0,
    aborted: 0,
    setBehavior(b) {
      behavior = b;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const stop of running) stop.abort();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the fake provider has no port');
  fake.port = address.port;
  fake.url = `http://127.0.0.1:${address.port}/v1`;
  return fake;
}

interface StreamPlan {
  /** The deltas to send as they are, or null to send `content` one word per event. */
  chunks: string[] | null;
  content: string;
  usage: FakeUsage | null | undefined;
  delayMs: number;
  cutAfter: number | undefined;
}

async function stream(res: ServerResponse, body: any, plan: StreamPlan, signal: AbortSignal, markCut: () => void): Promise<void> {
  const n = choiceCount(body);
  const limit = maxTokens(body);
  const deltas = plan.chunks ?? truncate(plan.content, limit).words;
  const truncated = plan.chunks === null && words(plan.content) > deltas.length;
  const frame = { id: `chatcmpl-fake-${randomId()}`, object: 'chat.completion.chunk', created: now(), model: body.model ?? 'fake-model' };
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  if (plan.cutAfter === 0) return cut(res, markCut);

  for (let i = 0; i < deltas.length; i++) {
    if (i > 0 && plan.delayMs) await sleep(plan.delayMs, undefined, { signal });
    for (let index = 0; index < n; index++) {
      const delta = i === 0 ? { role: 'assistant', content: deltas[i] } : { content: deltas[i] };
      await send(res, { ...frame, choices: [{ index, delta, logprobs: null, finish_reason: null }] });
    }
    if (plan.cutAfter !== undefined && i + 1 >= plan.cutAfter) return cut(res, markCut);
  }
  if (plan.delayMs) await sleep(plan.delayMs, undefined, { signal });
  const finish = truncated ? 'length' : 'stop';
  for (let index = 0; index < n; index++) await send(res, { ...frame, choices: [{ index, delta: {}, logprobs: null, finish_reason: finish }] });
  if (body.stream_options?.include_usage === true && plan.usage !== null) {
    const completionWords = Math.min(words(deltas.join('')), limit ?? Infinity) * n;
    await send(res, { ...frame, choices: [], usage: usageOf(plan.usage ?? { prompt_tokens: promptTokens(body), completion_tokens: completionWords }) });
  }
  await write(res, 'data: [DONE]\n\n');
  res.end();
}

/** Drops the connection mid-body, as a crashing provider would (no terminating chunk). */
function cut(res: ServerResponse, markCut: () => void): void {
  markCut();
  res.socket?.destroy();
}

function completion(body: any, content: string, usage: FakeUsage | null | undefined) {
  const n = choiceCount(body);
  const { text, words: kept, truncated } = truncate(content, maxTokens(body));
  const answer: Record<string, unknown> = {
    id: `chatcmpl-fake-${randomId()}`,
    object: 'chat.completion',
    created: now(),
    model: body.model ?? 'fake-model',
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content: text },
      logprobs: null,
      finish_reason: truncated ? 'length' : 'stop',
    })),
  };
  if (usage !== null) answer.usage = usageOf(usage ?? { prompt_tokens: promptTokens(body), completion_tokens: words(kept.join('')) * n });
  return answer;
}

function embeddings(body: any) {
  const inputs: unknown[] = Array.isArray(body.input) && body.input.length && typeof body.input[0] !== 'number' ? body.input : [body.input ?? ''];
  const dimensions = Number.isSafeInteger(body.dimensions) && body.dimensions > 0 && body.dimensions <= 4096 ? body.dimensions : EMBEDDING_DIMENSIONS;
  let tokens = 0;
  const data = inputs.map((input, index) => {
    tokens += Array.isArray(input) ? input.length : words(String(input));
    const vector = vectorOf(JSON.stringify(input), dimensions);
    // The official SDK asks for base64 unless told otherwise, then decodes little-endian float32.
    const embedding = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  return { object: 'list', data, model: body.model ?? 'fake-model', usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

/** A deterministic vector in [-1, 1] per input, so equal inputs embed equally. */
function vectorOf(seed: string, dimensions: number): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${seed}`).digest();
    for (let i = 0; i + 1 < digest.length && out.length < dimensions; i += 2) out.push(Math.round((digest.readUInt16LE(i) / 32767.5 - 1) * 1e4) / 1e4);
  }
  return out;
}

function promptTokens(body: any): number {
  const messages: unknown[] = Array.isArray(body.messages) ? body.messages : [];
  return messages.reduce<number>((sum, m) => sum + words(textOf((m as { content?: unknown })?.content)) + 1, 0);
}

/** A message's text: a string, or the text parts of a content array. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (part && typeof part === 'object' && typeof part.text === 'string' ? part.text : '')).join(' ');
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** The answer cut to at most `limit` words, as a model stops at max_tokens; split so the parts rejoin exactly. */
function truncate(content: string, limit: number | undefined): { text: string; words: string[]; truncated: boolean } {
  const parts = content.match(/\s*\S+\s*/g) ?? (content ? [content] : []);
  const kept = limit === undefined ? parts : parts.slice(0, limit);
  return { text: kept.join(''), words: kept, truncated: kept.length < parts.length };
}

function maxTokens(body: any): number | undefined {
  const limit = body.max_completion_tokens ?? body.max_tokens;
  return Number.isSafeInteger(limit) && limit >= 0 ? limit : undefined;
}

function choiceCount(body: any): number {
  return Number.isSafeInteger(body.n) && body.n > 0 && body.n <= 128 ? body.n : 1;
}

function usageOf(u: FakeUsage) {
  return { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.prompt_tokens + u.completion_tokens };
}

function errorBody(message: string, type: string) {
  return { error: { message, type, param: null, code: null } };
}

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function send(res: ServerResponse, value: unknown): Promise<void> {
  return write(res, `data: ${JSON.stringify(value)}\n\n`);
}

/** Resolves once the bytes reached the socket, so a cut right after really cuts after them. */
function write(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) return reject(new Error('the client went away'));
    res.write(text, (error) => (error ? reject(error) : resolve()));
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function randomId(): string {
  return createHash('sha1').update(`${Date.now()}:${Math.random()}`).digest('hex').slice(0, 24);
}
