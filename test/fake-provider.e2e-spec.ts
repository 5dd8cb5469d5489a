import OpenAI from 'openai';
import { startFakeProvider, type FakeProvider } from '../scripts/lib/fake-provider.js';

/**
 * The fake provider speaks OpenAI's wire format well enough for the official SDK, so gateway
 * tests that pass through it exercise what a real vLLM or OpenAI endpoint would send.
 */
let fake: FakeProvider;
let sdk: OpenAI;

beforeAll(async () => {
  fake = await startFakeProvider({ models: ['llama-3-8b', 'bge-small'] });
  sdk = new OpenAI({ baseURL: fake.url, apiKey: 'x', maxRetries: 0 });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.setBehavior({ kind: 'ok' }));

describe('the fake provider through the official openai SDK', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(fake.url).toBe(`http://127.0.0.1:${fake.port}/v1`);
  });

  it('answers chat.completions.create in JSON with derived usage', async () => {
    fake.setBehavior({ kind: 'ok', content: 'Paris is the capital of France.' });
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'What is the capital of France?' },
    ];
    const answer = await sdk.chat.completions.create({ model: 'llama-3-8b', messages });
    expect(answer).toMatchObject({
      object: 'chat.completion',
      model: 'llama-3-8b',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Paris is the capital of France.' }, finish_reason: 'stop' }],
      // 2 + 6 words, + 1 per message; 6 words answered.
      usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 },
    });
    expect(answer.id).toMatch(/^chatcmpl-/);
    expect(fake.requests.at(-1)).toMatchObject({ path: '/v1/chat/completions', headers: { authorization: 'Bearer x' }, body: { model: 'llama-3-8b', messages } });
  });

  it('answers one choice per n, caps the answer at max_tokens and counts tokens accordingly', async () => {
    fake.setBehavior({ kind: 'ok', content: 'one two three four five' });
    const answer = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'count' }], n: 2, max_tokens: 3 });
    expect(answer.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'one two three ', 'length'],
      [1, 'one two three ', 'length'],
    ]);
    expect(answer.usage).toEqual({ prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
  });

  it('records fields it does not know, for passthrough checks', async () => {
    await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], top_k: 5, guided_json: { type: 'object' } } as never);
    expect(fake.requests.at(-1)!.body).toMatchObject({ top_k: 5, guided_json: { type: 'object' } });
  });

  it('sends no usage when the behaviour says usage: null', async () => {
    fake.setBehavior({ kind: 'ok', usage: null });
    const answer = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.usage).toBeUndefined();
  });

  it('streams one chunk per word, then finish_reason, then usage when asked, then [DONE]', async () => {
    fake.setBehavior({ kind: 'ok', content: 'Hello streaming world' });
    const stream = await sdk.chat.completions.create({
      model: 'llama-3-8b',
      messages: [{ role: 'user', content: 'hi there' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? null)).toEqual(['Hello ', 'streaming ', 'world', null, null]);
    expect(chunks[0]).toMatchObject({ object: 'chat.completion.chunk', model: 'llama-3-8b', choices: [{ index: 0, delta: { role: 'assistant' } }] });
    expect(chunks[3].choices[0].finish_reason).toBe('stop');
    expect(chunks[4]).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 } });
    // All chunks of one answer share its id, as OpenAI's do.
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('streams without a usage chunk when not asked, or when the behaviour has usage: null', async () => {
    for (const [behaviorUsage, include] of [[undefined, false], [null, true]] as const) {
      fake.setBehavior({ kind: 'stream', chunks: ['a ', 'b'], usage: behaviorUsage });
      const stream = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, ...(include ? { stream_options: { include_usage: true } } : {}) });
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta?.content ?? null)).toEqual(['a ', 'b', null]);
      expect(chunks.some((c) => c.usage)).toBe(false);
    }
  });

  it('streams the given chunks with the given usage', async () => {
    fake.setBehavior({ kind: 'stream', chunks: ['one ', 'two'], usage: { prompt_tokens: 40, completion_tokens: 3 }, chunkDelayMs: 5 });
    const stream = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: unknown = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('one two');
    expect(usage).toEqual({ prompt_tokens: 40, completion_tokens: 3, total_tokens: 43 });
  });

  it('a stream cut after N chunks fails in the SDK after delivering them', async () => {
    fake.setBehavior({ kind: 'stream', chunks: ['abc ', 'def ', 'ghi'], cutAfter: 2 });
    const stream = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) got.push(chunk.choices[0]?.delta?.content ?? '');
      })(),
    ).rejects.toThrow();
    expect(got.join('')).toBe('abc def ');
  });

  it('answers error statuses in OpenAI shape, which the SDK surfaces with their status and headers', async () => {
    fake.setBehavior({ kind: 'status', status: 429, retryAfter: '7' });
    const error = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('7');

    fake.setBehavior({ kind: 'status', status: 400, body: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } } });
    const bad = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.APIError>).param).toBe('temperature');
  });

  it('chooses behaviour per request with a function given the body and the request number', async () => {
    fake.setBehavior(({ body, n }) => ({ kind: 'ok', content: `${body.messages[0].content} #${n}` }));
    const first = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'echo' }] });
    const second = await sdk.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'echo' }] });
    const number = (s: string | null) => Number(s!.split('#')[1]);
    expect(number(second.choices[0].message.content)).toBe(number(first.choices[0].message.content) + 1);
  });

  it('answers embeddings (the SDK asks for base64 and decodes it) and lists models', async () => {
    const embedded = await sdk.embeddings.create({ model: 'bge-small', input: ['hello world', 'hello world', 'other'] });
    expect(embedded.data).toHaveLength(3);
    expect(embedded.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(embedded.data[0].embedding).toHaveLength(8);
    expect(embedded.data[0].embedding).toEqual(embedded.data[1].embedding);
    expect(embedded.data[0].embedding).not.toEqual(embedded.data[2].embedding);
    expect(embedded.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    const asFloats = await sdk.embeddings.create({ model: 'bge-small', input: 'hello world', encoding_format: 'float' });
    expect(asFloats.data[0].embedding.map((x) => Math.round(x * 1e4))).toEqual(embedded.data[0].embedding.map((x) => Math.round(x * 1e4)));

    const models = await sdk.models.list();
    expect(models.data.map((m) => [m.id, m.object])).toEqual([
      ['llama-3-8b', 'model'],
      ['bge-small', 'model'],
    ]);
  });

  it('adds latencyMs before answering', async () => {
    const slow = await startFakeProvider({ latencyMs: 100 });
    try {
      const started = Date.now();
      await new OpenAI({ baseURL: slow.url, apiKey: 'x', maxRetries: 0 }).models.list();
      // A lower bound only: load can make it slower, never faster.
      expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    } finally {
      await slow.close();
    }
  });

  it('close() does not wait for a hanging request', async () => {
    const slow = await startFakeProvider({ latencyMs: 50, behavior: { kind: 'hang' } });
    const client = new OpenAI({ baseURL: slow.url, apiKey: 'x', maxRetries: 0, timeout: 60_000 });
    const pending = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    while (slow.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    await slow.close();
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
