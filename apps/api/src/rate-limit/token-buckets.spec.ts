import { MAX_TRACKED, TokenBuckets } from './token-buckets.js';

describe('TokenBuckets', () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => {
    clock = 1_000_000;
  });

  it('allows a burst, then refuses with the wait for the next token', () => {
    const buckets = new TokenBuckets(60, 5, now); // one token a second
    for (let i = 0; i < 5; i++) expect(buckets.take('a')).toEqual({ allowed: true });
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    clock += 1000;
    expect(buckets.take('a')).toEqual({ allowed: true });
    expect(buckets.take('a').allowed).toBe(false);
  });

  it('rounds the wait up to whole seconds', () => {
    const buckets = new TokenBuckets(5, 5, now); // one token every 12 s
    for (let i = 0; i < 5; i++) buckets.take('a');
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterSeconds: 12 });
    clock += 2500;
    expect(buckets.take('a')).toEqual({ allowed: false, retryAfterSeconds: 10 });
    clock += 9500;
    expect(buckets.take('a')).toEqual({ allowed: true });
  });

  it('keeps callers apart', () => {
    const buckets = new TokenBuckets(60, 1, now);
    expect(buckets.take('a').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(false);
    expect(buckets.take('b').allowed).toBe(true);
  });

  it('never holds more than the burst, however long idle', () => {
    const buckets = new TokenBuckets(6000, 3, now);
    buckets.take('a');
    clock += 3_600_000;
    for (let i = 0; i < 3; i++) expect(buckets.take('a').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(false);
  });

  it('forgets refilled callers once a minute', () => {
    const buckets = new TokenBuckets(60, 2, now);
    buckets.take('a');
    buckets.take('b');
    expect(buckets.size).toBe(2);
    clock += 61_000;
    buckets.take('c');
    expect(buckets.size).toBe(1);
  });

  it(`tracks at most ${MAX_TRACKED} callers, forgetting the oldest, however many addresses call`, () => {
    const buckets = new TokenBuckets(60, 1, now); // a caller's bucket refills in a second
    for (let i = 0; i < MAX_TRACKED + 5_000; i++) buckets.take(`addr-${i}`);
    expect(buckets.size).toBe(MAX_TRACKED);
    // The newest are still limited; the oldest were forgotten and start again with a full bucket.
    expect(buckets.take(`addr-${MAX_TRACKED + 4_999}`).allowed).toBe(false);
    expect(buckets.take('addr-0').allowed).toBe(true);
    expect(buckets.size).toBe(MAX_TRACKED);
    // Once they have refilled, many callers are dropped within a second, not a minute.
    clock += 1_000;
    buckets.take('late');
    expect(buckets.size).toBe(1);
  });
});
