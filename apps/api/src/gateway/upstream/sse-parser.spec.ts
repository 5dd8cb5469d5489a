import { SseLimitError, SseParser, type SseEvent } from './sse-parser.js';

/** Feeds `chunks` in order and collects every event, `end()` included. */
function parse(chunks: (string | Buffer)[], parser = new SseParser()): SseEvent[] {
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
  events.push(...parser.end());
  return events;
}

/** Every way of cutting `text`'s bytes in two. */
function everySplit(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'utf8');
  return Array.from({ length: bytes.length + 1 }, (_, i) => [bytes.subarray(0, i), bytes.subarray(i)]);
}

describe('SseParser (WHATWG event stream interpretation)', () => {
  const cases: [string, (string | Buffer)[], SseEvent[]][] = [
    ['one event', ['data: hello\n\n'], [{ data: 'hello' }]],
    ['two events in one chunk', ['data: a\n\ndata: b\n\n'], [{ data: 'a' }, { data: 'b' }]],
    ['multi-line data joined with LF', ['data: a\ndata: b\ndata: c\n\n'], [{ data: 'a\nb\nc' }]],
    ['CRLF line endings', ['data: a\r\ndata: b\r\n\r\n'], [{ data: 'a\nb' }]],
    ['CR line endings', ['data: a\rdata: b\r\r'], [{ data: 'a\nb' }]],
    ['mixed line endings', ['data: a\r\ndata: b\rdata: c\n\r\n'], [{ data: 'a\nb\nc' }]],
    ['CRLF split across chunks is one line break', ['data: a\r', '\n', '\r', '\n'], [{ data: 'a' }]],
    ['CR then CR is an empty line', ['data: a\r', '\rdata: b\n\n'], [{ data: 'a' }, { data: 'b' }]],
    ['a line split across chunks', ['da', 'ta: hel', 'lo\n', '\n'], [{ data: 'hello' }]],
    ['comments are ignored', [': keep-alive\n\ndata: x\n: in the middle\n\n'], [{ data: 'x' }]],
    ['only one space after the colon is stripped', ['data:  two\n\n'], [{ data: ' two' }]],
    ['no space after the colon', ['data:x\n\n'], [{ data: 'x' }]],
    ['a field without a colon has an empty value', ['data\n\n'], [{ data: '' }]],
    ['an empty data line dispatches an empty event', ['data:\n\n'], [{ data: '' }]],
    ['two empty data lines give one LF', ['data\ndata\n\n'], [{ data: '\n' }]],
    ['event type', ['event: error\ndata: boom\n\n'], [{ event: 'error', data: 'boom' }]],
    ['event type resets after dispatch', ['event: a\ndata: 1\n\ndata: 2\n\n'], [{ event: 'a', data: '1' }, { data: '2' }]],
    ['event type without data dispatches nothing and resets', ['event: a\n\ndata: 2\n\n'], [{ data: '2' }]],
    ['blank lines alone dispatch nothing', ['\n\n\r\n\r\r'], []],
    ['id, retry and unknown fields are ignored', ['id: 7\nretry: 10\nfoo: bar\ndata: x\n\n'], [{ data: 'x' }]],
    ['a colon inside the value is kept', ['data: {"a":"b:c"}\n\n'], [{ data: '{"a":"b:c"}' }]],
    ['a field name is case-sensitive', ['Data: x\ndata: y\n\n'], [{ data: 'y' }]],
    ['a leading BOM is ignored', [Buffer.from([0xef, 0xbb, 0xbf]), 'data: x\n\n'], [{ data: 'x' }]],
    ['the [DONE] sentinel is plain data', ['data: {"choices":[]}\n\ndata: [DONE]\n\n'], [{ data: '{"choices":[]}' }, { data: '[DONE]' }]],
    ['at the end, complete data lines missing their blank line still dispatch', ['data: [DONE]\n'], [{ data: '[DONE]' }]],
    ['at the end, a half line is discarded', ['data: {"usage":{"prompt'], []],
    ['at the end, a half line after complete ones is dropped, the rest kept', ['data: a\ndata: b'], [{ data: 'a' }]],
    ['invalid UTF-8 becomes U+FFFD', [Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a])], [{ data: '\ufffd' }]],
  ];

  it.each(cases)('%s', (_name, chunks, expected) => {
    expect(parse(chunks)).toEqual(expected);
  });

  it.each([
    ['a multi-byte character', 'data: h\u00e9llo \u20ac \ud83d\ude00\n\n', [{ data: 'h\u00e9llo \u20ac \ud83d\ude00' }]],
    ['a CRLF pair', 'data: a\r\n\r\ndata: b\r\n\r\n', [{ data: 'a' }, { data: 'b' }]],
    ['an OpenAI chunk', 'data: {"choices":[{"delta":{"content":"\u00e7a"}}]}\n\ndata: [DONE]\n\n', [{ data: '{"choices":[{"delta":{"content":"\u00e7a"}}]}' }, { data: '[DONE]' }]],
  ])('the same events wherever the bytes are cut: %s', (_name, text, expected) => {
    for (const chunks of everySplit(text)) expect(parse(chunks)).toEqual(expected);
  });

  it('gives the same events when fed one byte at a time', () => {
    const text = 'event: x\r\ndata: \u00e9\u20ac\rdata: 2\n\r\n: c\ndata: [DONE]\n\n';
    const bytes = Buffer.from(text, 'utf8');
    expect(parse([...bytes].map((b) => Buffer.from([b])))).toEqual(parse([text]));
  });

  it('returns events as soon as their blank line arrives, not later', () => {
    const parser = new SseParser();
    expect(parser.push(Buffer.from('data: a\n'))).toEqual([]);
    expect(parser.push(Buffer.from('\ndata: b'))).toEqual([{ data: 'a' }]);
    expect(parser.push(Buffer.from('\n\n'))).toEqual([{ data: 'b' }]);
  });

  it('is reusable after end()', () => {
    const parser = new SseParser();
    expect(parse(['event: e\ndata: half'], parser)).toEqual([]);
    expect(parse(['data: fresh\n\n'], parser)).toEqual([{ data: 'fresh' }]);
  });

  it.each([
    ['an endless line', ['data: ' + 'x'.repeat(40)]],
    ['an endless event', Array.from({ length: 10 }, () => 'data: xxxxxx\n')],
  ])('refuses %s past maxEventLength', (_name, chunks) => {
    const parser = new SseParser({ maxEventLength: 32 });
    expect(() => chunks.forEach((c) => parser.push(Buffer.from(c)))).toThrow(SseLimitError);
  });
});
