import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a test receiver got. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  /** The raw body, exactly as sent (what the signature covers). */
  body: string;
  /** The status the receiver answered with. */
  status: number;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Resolves once `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A webhook endpoint on 127.0.0.1 and a random port. `respond(n, request)` picks the status of
 * the n-th request (1-based); `delayMs` holds each answer back, to widen race windows.
 */
export async function startReceiver(
  respond: (n: number, request: ReceivedWebhook) => number = () => 200,
  options: { delayMs?: number } = {},
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit: ReceivedWebhook = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: 0, at: Date.now() };
      received.push(hit);
      hit.status = respond(received.length, hit);
      setTimeout(() => res.writeHead(hit.status, { 'content-type': 'text/plain' }).end('ok'), options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/ccx`,
    received,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhook requests, got ${received.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * What a receiver does with `CCX-Signature: t=…,v1=…`, written independently of the server's
 * code: recompute HMAC-SHA256(secret, "<t>.<raw body>") and compare in constant time.
 */
export function verifySignature(secret: string, header: string | string[] | undefined, rawBody: string): { ok: boolean; t: number } {
  const text = Array.isArray(header) ? header[0] : (header ?? '');
  const parts = Object.fromEntries(text.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!/^\d+$/.test(parts.t ?? '') || !/^[0-9a-f]{64}$/.test(parts.v1 ?? '')) return { ok: false, t };
  const expected = createHmac('sha256', secret).update(`${parts.t}.${rawBody}`).digest();
  return { ok: timingSafeEqual(expected, Buffer.from(parts.v1, 'hex')), t };
}
