/** One dispatched server-sent event. `event` is absent for the default type ("message"). */
export interface SseEvent {
  event?: string;
  data: string;
}

/** A provider sent a line or an event larger than the parser agreed to hold. */
export class SseLimitError extends Error {
  constructor(readonly limit: number) {
    super(`server-sent event larger than ${limit} characters`);
    this.name = 'SseLimitError';
  }
}

/** Sixteen million characters: far above any chat completion chunk, far below exhausting memory. */
const DEFAULT_MAX_EVENT_LENGTH = 16 * 1024 * 1024;

const LINE_BREAK = /[\r\n]/g;

/**
 * An incremental parser for `text/event-stream` bodies following the WHATWG HTML "event stream
 * interpretation" rules. The gateway forwards a provider's raw bytes and feeds the same bytes
 * here, so chunks may split anything: a line, a CRLF pair, even a multi-byte UTF-8 character.
 *
 * One deliberate leniency: at `end()` an event whose `data:` lines were complete but which never
 * got its closing blank line is still dispatched (providers that close right after their last
 * line). A half-received line is discarded, as the standard says, so a truncated JSON chunk is
 * never reported as a whole one.
 */
export class SseParser {
  private readonly maxEventLength: number;
  // The default (non-fatal, BOM-stripping) decoder is exactly what the standard asks for: UTF-8
  // with replacement characters, one leading U+FEFF ignored.
  private decoder = new TextDecoder('utf-8');
  private line = '';
  private data: string[] = [];
  private dataLength = 0;
  private eventType = '';
  /** The previous chunk ended in CR: a LF opening the next one belongs to the same line break. */
  private skipLineFeed = false;

  /** @param opts.maxEventLength the most characters one pending line plus event data may hold */
  constructor(opts: { maxEventLength?: number } = {}) {
    this.maxEventLength = opts.maxEventLength ?? DEFAULT_MAX_EVENT_LENGTH;
  }

  /**
   * Feeds bytes as they arrived; returns the events they completed, in order.
   * @throws SseLimitError when a line or an event grows past `maxEventLength`
   */
  push(chunk: Buffer | Uint8Array): SseEvent[] {
    return this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** The stream ended: returns what the end completed and resets the parser for reuse. */
  end(): SseEvent[] {
    const events = this.feed(this.decoder.decode());
    if (this.data.length) events.push(this.dispatch());
    this.decoder = new TextDecoder('utf-8');
    this.line = '';
    this.data = [];
    this.dataLength = 0;
    this.eventType = '';
    this.skipLineFeed = false;
    return events;
  }

  private feed(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    if (this.skipLineFeed && text.length) {
      this.skipLineFeed = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    while (start < text.length) {
      LINE_BREAK.lastIndex = start;
      const found = LINE_BREAK.exec(text);
      if (!found) {
        this.line += text.slice(start);
        this.checkLength();
        break;
      }
      let breakAt = found.index;
      const line = this.line + text.slice(start, breakAt);
      this.line = '';
      if (text.charCodeAt(breakAt) === 13) {
        if (breakAt + 1 === text.length) this.skipLineFeed = true;
        else if (text.charCodeAt(breakAt + 1) === 10) breakAt += 1;
      }
      start = breakAt + 1;
      const event = this.processLine(line);
      if (event) events.push(event);
    }
    return events;
  }

  private processLine(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length) return this.dispatch();
      this.eventType = '';
      return null;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataLength += value.length + 1;
      this.checkLength();
    } else if (field === 'event') {
      this.eventType = value;
    }
    // `id` and `retry` steer browser reconnection, which a proxied one-shot stream never does;
    // other field names are ignored by the standard.
    return null;
  }

  private dispatch(): SseEvent {
    const event: SseEvent = { data: this.data.join('\n') };
    if (this.eventType) event.event = this.eventType;
    this.data = [];
    this.dataLength = 0;
    this.eventType = '';
    return event;
  }

  private checkLength(): void {
    if (this.line.length + this.dataLength > this.maxEventLength) throw new SseLimitError(this.maxEventLength);
  }
}
